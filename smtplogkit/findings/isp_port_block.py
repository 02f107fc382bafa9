"""isp_port_block: a network cannot reach port 25 of outside mail servers while submission ports work.

Only hosts that look external count (see :func:`._egress.is_external`).
Minimum evidence: from one network, at least ``MIN_SESSIONS`` port-25
connections that time out, are refused or unreachable, making at least 40%
of its port-25 attempts between the first and last failure; at least
``MIN_WORKING`` connections from the same network to a submission port
(465, 587, 2525) that were established in that window; and either port-25
failures to two or more hosts or another network reaching the same port-25
host.  Fisher's test (port 25 against submission ports) must give
p < 0.01.
"""

from __future__ import annotations

import pandas as pd

from ..analysis import Rate, fisher_p
from .base import Context, Finding, confidence, examples, scope_of
from ._egress import CONNECT_CAUSES, SUBMISSION_PORTS, connected, in_window, is_external, outcome_words, window_rate
from ._explicit import names

KIND = "isp_port_block"
MIN_SESSIONS = 5
MIN_WORKING = 3


def detect(ctx: Context) -> list[Finding]:
    """Report each network whose outbound port 25 is blocked."""
    minimum = ctx.minimum(KIND, MIN_SESSIONS)
    sessions = ctx.sessions
    mask = ctx.of_causes(CONNECT_CAUSES)
    reached = connected(sessions)
    port = sessions["port"]
    found = []
    outside = pd.Series([is_external(host) for host in sessions["host"].tolist()], index=sessions.index, dtype=bool)
    for network, own in sessions[(port == 25).fillna(False) & outside].groupby("network", observed=True):
        rate, failing = window_rate(own, mask)
        if rate.count < minimum or rate.low < ctx.min_share:
            continue
        start, end = failing["start"].min(), failing["start"].max()
        submission = in_window(sessions[(sessions["network"] == network).fillna(False) & port.isin(SUBMISSION_PORTS)],
                               start, end)
        working = submission[reached.loc[submission.index]]
        if len(working) < MIN_WORKING:
            continue
        hosts = sorted(failing["host"].dropna().unique())
        others = in_window(sessions[(sessions["network"] != network).fillna(False) & (port == 25).fillna(False)
                                    & sessions["host"].isin(hosts)], start, end)
        others_reaching = int(reached.loc[others.index].sum())
        if len(hosts) < 2 and others_reaching == 0:
            continue
        submission_rate = Rate.of(len(submission) - len(working), len(submission))
        p_value = fisher_p(rate.count, rate.total, submission_rate.count, submission_rate.total)
        if p_value >= ctx.alpha:
            continue
        evidence = {"failures": rate.count, "port_25_failure_share": rate.as_dict(),
                    "submission_failure_share": submission_rate.as_dict(), "p_value": float(f"{p_value:.3g}"),
                    "port_25_hosts_failing": len(hosts), "other_networks_reaching_port_25": others_reaching}
        summary = (f"outbound port 25 from {network} is {outcome_words(failing)} to {names(hosts)}, "
                   f"while ports {', '.join(str(p) for p in sorted(working['port'].dropna().unique()))} work")
        next_step = (f"The provider of {network} blocks outbound port 25: send through a submission port (587 with "
                     "STARTTLS or 465) on an authenticated relay, or ask the ISP to lift the block for this address.")
        found.append(Finding(KIND, confidence(rate.count, p_value, 0.85), summary, scope_of(failing, ports=[25]),
                             evidence, examples(failing), next_step))
        ctx.claim(failing.index)
    return found

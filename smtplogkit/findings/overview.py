"""The failure overview of a diagnosis that found no blocker, and why no failure qualified.

:func:`failure_overview` runs when :func:`smtplogkit.diagnose` names no
blocker.  It lists the most common failure causes and, for each, the host
and the network that lost the largest share of their sessions to it, next to
the share threshold the detectors apply.  It also counts the rejections that
name a DNS blocklist, because such a reply names the blocker even when too
few sessions carry it for a finding.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from ..analysis import Rate
from .base import Context, format_number
from .reputation_block import MIN_BLOCKLIST_SHARE, blocklist_replies

TOP_CAUSES = 3
# Label columns in which a blocker's share is measured, as most detectors group failures.
SHARE_SCOPES = ("host", "network")


def failure_overview(ctx: Context, minimum: int, top: int = TOP_CAUSES) -> dict[str, Any]:
    """Summarise the failures of a diagnosis that found no blocker.

    Parameters
    ----------
    ctx
        Detector context of the diagnosis.
    minimum
        Minimum failing sessions of most finding kinds, shown as the count
        threshold.
    top
        Number of causes to list, most common first.

    Returns
    -------
    dict
        ``sessions`` and ``failures`` are counts.  ``thresholds`` contains
        ``min_share``, ``min_sessions`` and ``alpha``.  ``top_causes`` has
        one dict per cause with ``cause``, ``failure_stage`` (its most
        common stage), ``sessions``, ``share_of_failures`` and
        ``largest_share``.  ``largest_share`` names, per host and network,
        the group with the highest lower 95% bound of its share, measured
        between the group's first and last failure of that cause.
        ``blocklists`` has one dict per DNS blocklist named in failing
        replies, with the listed addresses the replies name.
    """
    sessions = ctx.sessions
    failed = ctx.failed
    failures = int(failed.sum())
    overview: dict[str, Any] = {
        "sessions": len(sessions),
        "failures": failures,
        "thresholds": {"min_share": ctx.min_share, "min_sessions": minimum, "alpha": ctx.alpha},
        "top_causes": [],
        "blocklists": [],
    }
    if not failures:
        return overview

    rows = sessions[failed]
    cause = rows["cause"].astype("string")
    for name, count in cause.value_counts().head(top).items():
        of_cause = rows[cause == name]
        stage = of_cause["failure_stage"].astype("string").value_counts()
        overview["top_causes"].append({
            "cause": str(name),
            "failure_stage": str(stage.index[0]) if len(stage) else None,
            "sessions": int(count),
            "share_of_failures": Rate.of(int(count), failures).as_dict(),
            "largest_share": {scope: _largest_share(sessions, of_cause, scope)
                              for scope in SHARE_SCOPES if scope in sessions.columns},
        })

    listed = blocklist_replies(ctx)
    for zone, rows_of_zone in listed.groupby("blocklist", sort=True):
        count = len(rows_of_zone)
        overview["blocklists"].append({"blocklist": str(zone), "sessions": count,
                                       "listed_ips": sorted(rows_of_zone["listed_ip"].dropna().unique().tolist()),
                                       "share_of_failures": Rate.of(count, failures).as_dict(),
                                       "min_share_of_failures": MIN_BLOCKLIST_SHARE})
    return overview


def _largest_share(sessions: pd.DataFrame, failing: pd.DataFrame, column: str) -> dict[str, Any] | None:
    """Return the group of ``column`` whose sessions ``failing`` hits hardest, by the lower 95% bound.

    Each group's share counts its sessions between its first and last
    failure, as the detectors do; sessions without a timestamp count as
    inside.
    """
    keyed = failing[failing[column].notna()]
    if keyed.empty:
        return None
    windows = keyed.groupby(column, observed=True)["start"].agg(first="min", last="max", failures="size")
    joined = sessions[[column, "start"]].join(windows, on=column, how="inner")
    inside = (joined["start"].isna() | joined["first"].isna()
              | ((joined["start"] >= joined["first"]) & (joined["start"] <= joined["last"])))
    totals = inside.groupby(joined[column], observed=True).sum()
    best: tuple[Any, Rate] | None = None
    for value, count in windows["failures"].items():
        rate = Rate.of(int(count), int(totals.get(value, count)))
        if best is None or rate.low > best[1].low:
            best = (value, rate)
    value, rate = best
    return {"value": str(value), "share": rate.as_dict()}


def overview_lines(overview: dict[str, Any]) -> list[str]:
    """Return the overview as plain sentences, one per line, for the CLI and the report."""
    if not overview or not overview.get("failures"):
        return ["No session failed."] if overview else []
    limits = overview["thresholds"]
    lines = [f"No failure qualified as a finding: a blocker needs at least {limits['min_sessions']} failing "
             f"sessions making at least {limits['min_share']:.0%} of a group's sessions (lower 95% bound), "
             f"with Fisher p < {format_number(limits['alpha'])}.",
             f"Top failure causes, of {_counted(overview['failures'], 'failed session')} "
             f"out of {overview['sessions']}:"]
    for item in overview["top_causes"]:
        share = item["share_of_failures"]["rate"]
        where = f" at {item['failure_stage']}" if item.get("failure_stage") else ""
        text = f"- {item['cause']}{where}: {_counted(item['sessions'], 'session')} ({share:.1%} of failures)"
        largest = [_share_text(scope, group, limits["min_share"])
                   for scope, group in item["largest_share"].items() if group]
        if largest:
            text += "; largest share " + ", ".join(largest)
        lines.append(text)
    for item in overview["blocklists"]:
        share = item["share_of_failures"]["rate"]
        ips = f" listing {', '.join(item['listed_ips'])}" if item["listed_ips"] else " without a listed address"
        lines.append(f"Replies name the DNS blocklist {item['blocklist']}{ips} "
                     f"in {_counted(item['sessions'], 'failed session')} "
                     f"({share:.1%} of failures; a finding needs at least {limits['min_sessions']} sessions "
                     f"naming the list and the address, and {item['min_share_of_failures']:.0%} of failures).")
    return lines


def _counted(count: int, noun: str) -> str:
    """Return ``count`` with ``noun``, plural unless the count is 1 (``1 failed session``, ``2 failed sessions``)."""
    return f"{count} {noun}" + ("" if count == 1 else "s")


def _share_text(scope: str, group: dict[str, Any], min_share: float) -> str:
    share = group["share"]
    low = share["ci95"][0] or 0.0
    return (f"per {scope}: {group['value']} {share['count']}/{share['total']} = {share['rate']:.1%} "
            f"(lower bound {low:.1%}, threshold {min_share:.0%})")

"""Detection shared by the kinds that a reply or error names outright (greylisting, reputation...)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pandas as pd

from ..analysis import Rate
from ._egress import in_window
from .base import Cluster, Context, Finding, clusters, confidence, earned, examples, scope_of


def reply_codes(rows: pd.DataFrame) -> dict[str, int]:
    """Tally the reply code and enhanced code of failing sessions ("421 4.7.0": 12)."""
    code = rows["reply_code"].astype("string").fillna("")
    enhanced = rows["enhanced_code"].astype("string").fillna("")
    text = (code + " " + enhanced).str.strip().replace("", "(no reply)")
    return {str(k): int(v) for k, v in text.value_counts().items()}


def cluster_evidence(cluster: Cluster) -> dict:
    """Return the numbers every cluster-based finding reports."""
    return {
        "failures": cluster.rate.count,
        "failure_share_in_window": cluster.rate.as_dict(),
        "p_value": float(f"{cluster.p_value:.3g}"),
        "reply_codes": reply_codes(cluster.failures),
    }


def earned_clusters(ctx: Context, mask: pd.Series, by: str | Sequence[str], minimum: int,
                    min_share: float | None = None) -> list[tuple[Any, list[Cluster]]]:
    """Return, per value of ``by``, the clusters that earn a finding.

    A blocker that hits one network is found by grouping by ``by`` and
    network, because its share of all networks' sessions would be diluted.
    A blocker that hits every network thinly is found by ``by`` alone.
    """
    keys = [by] if isinstance(by, str) else list(by)
    per_network: dict[Any, list[Cluster]] = {}
    for cluster in clusters(ctx, mask, [*keys, "network"], split=None, minimum=minimum):
        if earned(ctx, cluster, minimum, min_share):
            per_network.setdefault(cluster.key[:-1] if len(keys) > 1 else cluster.key[0], []).append(cluster)
    for cluster in clusters(ctx, mask, by, minimum=minimum):
        if cluster.key not in per_network and earned(ctx, cluster, minimum, min_share):
            per_network[cluster.key] = [cluster]
    return list(per_network.items())


def explicit_findings(ctx: Context, *, kind: str, causes: Sequence[str], by: str | Sequence[str], minimum: int,
                      base: float, describe: Callable[[Any, pd.DataFrame, dict[str, Rate]], tuple[str, str]],
                      min_share: float | None = None, merge: Callable[[Any], Any] | None = None) -> list[Finding]:
    """Turn each value of ``by`` with earned clusters of ``causes`` into one finding.

    ``merge(key)``, when given, maps several keys to one finding (one per
    host for a tenant-wide policy found per host and identity).

    ``describe(key, rows, rates)`` returns the summary and the next step.
    ``rates`` maps each network to its failure share per network at the same hosts while
    the failures went on.
    """
    mask = ctx.of_causes(causes)
    found = []
    groups: dict[Any, list[Cluster]] = {}
    for key, earned_list in earned_clusters(ctx, mask, by, minimum, min_share):
        groups.setdefault(merge(key) if merge else key, []).extend(earned_list)
    for key, earned_list in groups.items():
        rows = pd.concat([c.failures for c in earned_list])
        main = max(earned_list, key=lambda c: c.rate.count)
        rates = _network_rates(ctx, mask, rows)
        summary, next_step = describe(key, rows, rates)
        p_value = max(c.p_value for c in earned_list)
        evidence = {**cluster_evidence(main), "failures": len(rows), "p_value": float(f"{p_value:.3g}"),
                    "by_network": {name: rate.as_dict() for name, rate in rates.items()}}
        found.append(Finding(kind, confidence(len(rows), p_value, base), summary, scope_of(rows), evidence,
                             examples(rows), next_step))
        ctx.claim(rows.index)
    return found


def _network_rates(ctx: Context, mask: pd.Series, rows: pd.DataFrame) -> dict[str, Rate]:
    """Failure share per network between the first and last failure, for the targets in ``rows``."""
    frame = ctx.sessions
    window = in_window(frame[frame["host"].isin(set(rows["host"].dropna()))], rows["start"].min(), rows["start"].max())
    return {str(n): Rate.of(int(mask.loc[g.index].sum()), len(g)) for n, g in window.groupby("network", observed=True)}


def names(values: list) -> str:
    """Join up to three values for a sentence, noting how many more there are."""
    shown = ", ".join(str(v) for v in values[:3])
    return shown + (f" and {len(values) - 3} more" if len(values) > 3 else "")

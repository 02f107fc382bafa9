"""Statistics on sessions: failure rates, association tests, funnels, thresholds, change points.

The functions work on any boolean "failed" mask, so the same code measures
all failures, one cause or one group of causes.  scipy is imported inside
the functions that need it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .labels import STAGE_ORDER, Stage

Z_95 = 1.959963984540054
FUNNEL_STAGES = (Stage.CONNECT, Stage.TLS, Stage.GREETING, Stage.EHLO, Stage.STARTTLS, Stage.AUTH, Stage.MAIL_FROM,
                 Stage.RCPT_TO, Stage.DATA)


def failed_mask(sessions: pd.DataFrame, causes: Sequence[str] | None = None) -> pd.Series:
    """Return a boolean Series: sessions that failed (with one of ``causes``, if given)."""
    cause = sessions["cause"].astype("string")
    if causes is None:
        return (cause.notna() & (cause != "ok")).astype(bool)
    return cause.isin(list(causes)).fillna(False).astype(bool)


def wilson_interval(successes: int, trials: int, z: float = Z_95) -> tuple[float, float]:
    """Return the Wilson score interval for a binomial proportion.

    ``(nan, nan)`` when there are no trials.  The default ``z`` gives a 95%
    interval.
    """
    if trials <= 0:
        return (math.nan, math.nan)
    p = successes / trials
    denominator = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denominator
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denominator
    # In exact arithmetic the interval contains p, but rounding can leave 0 of n a lower bound just above 0.
    return (min(max(0.0, centre - half), p), max(min(1.0, centre + half), p))


@dataclass(slots=True)
class Rate:
    """A proportion with its 95% Wilson interval."""

    count: int
    total: int
    rate: float
    low: float
    high: float

    @classmethod
    def of(cls, count: int, total: int) -> Rate:
        """Build the rate of ``count`` out of ``total``."""
        low, high = wilson_interval(count, total)
        return cls(int(count), int(total), count / total if total else math.nan, low, high)

    def as_dict(self) -> dict[str, Any]:
        """Return the fields rounded for reports and JSON."""
        return {"count": self.count, "total": self.total, "rate": _round(self.rate), "ci95": [_round(self.low), _round(self.high)]}


def _round(value: float, digits: int = 4) -> float | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else round(float(value), digits)


def failure_rate(sessions: pd.DataFrame, by: str | Sequence[str], failed: pd.Series | None = None) -> pd.DataFrame:
    """Return the failure rate per value of one or more label columns.

    Parameters
    ----------
    sessions
        Sessions DataFrame.
    by
        Column name(s) to group by (``"network"``, ``["network", "port"]``).
    failed
        Boolean mask of failures; by default every session whose cause is
        not ``ok``.

    Returns
    -------
    pandas.DataFrame
        Columns ``sessions``, ``failures``, ``rate``, ``low``, ``high`` (95%
        Wilson interval), indexed by the group values.
    """
    failed = failed_mask(sessions) if failed is None else failed.astype(bool)
    keys = [by] if isinstance(by, str) else list(by)
    grouped = failed.groupby([sessions[k] for k in keys], observed=True, dropna=False)
    table = pd.DataFrame({"sessions": grouped.size(), "failures": grouped.sum().astype(int)})
    bounds = [wilson_interval(f, n) for f, n in zip(table["failures"], table["sessions"])]
    table["rate"] = table["failures"] / table["sessions"]
    table["low"] = [b[0] for b in bounds]
    table["high"] = [b[1] for b in bounds]
    return table


def association(sessions: pd.DataFrame, label: str, failed: pd.Series | None = None) -> dict[str, Any]:
    """Test whether failures depend on a label.

    A 2x2 table (a label with two values) gets Fisher's exact test and an
    odds ratio; larger tables get a chi-square test and Cramér's V.

    Returns
    -------
    dict
        ``test``, ``p_value``, ``effect`` (name) and ``effect_size``, and the
        contingency ``table`` as nested dicts.
    """
    from scipy import stats

    failed = failed_mask(sessions) if failed is None else failed.astype(bool)
    table = pd.crosstab(sessions[label].astype("string").fillna("(none)"), failed.rename("failed"))
    table = table.reindex(columns=pd.Index([False, True], dtype=bool), fill_value=0)
    result: dict[str, Any] = {"label": label, "table": {str(k): [int(v) for v in row] for k, row in table.iterrows()}}
    if len(table) < 2 or (table.sum(axis=0) == 0).any():
        # One value of the label, or no failure (or no success) at all: nothing to test.
        return {**result, "test": None, "p_value": None, "effect": None, "effect_size": None}
    if len(table) == 2:
        odds, p_value = stats.fisher_exact(table.to_numpy())
        return {**result, "test": "fisher_exact", "p_value": float(p_value), "effect": "odds_ratio", "effect_size": float(odds)}
    chi2, p_value, _, _ = stats.chi2_contingency(table.to_numpy())
    n = table.to_numpy().sum()
    cramers_v = math.sqrt(chi2 / (n * (min(table.shape) - 1))) if n else math.nan
    return {**result, "test": "chi2", "p_value": float(p_value), "effect": "cramers_v", "effect_size": float(cramers_v)}


def describe_association(result: dict[str, Any]) -> str:
    """Return an :func:`association` result as one sentence for a reader.

    The p-value gets two significant digits (``p < 0.001`` below that).  For
    an odds ratio of 0 or infinity, the sentence names the value of the
    label that has no failures or no successes.
    """
    label = result.get("label", "the label")
    if result.get("test") is None:
        return f"No test for {label}: it has one value, or the sessions have no failures or no successes."
    p_value = result["p_value"]
    p_text = "p < 0.001" if p_value < 0.001 else f"p = {p_value:.2g}"
    verdict = "unlikely to be chance" if p_value < 0.05 else "chance alone could give it"
    if result["test"] == "fisher_exact":
        (first, (first_ok, first_failed)), (second, (second_ok, second_failed)) = result["table"].items()
        size = result["effect_size"]
        if math.isinf(size) or size == 0:
            # The odds ratio is (first_ok * second_failed) / (first_failed * second_ok).
            empty = [f"{first} has no failures" if first_failed == 0 else "",
                     f"{second} has no successes" if second_ok == 0 else "",
                     f"{first} has no successes" if first_ok == 0 else "",
                     f"{second} has no failures" if second_failed == 0 else ""]
            reasons = [reason for reason in (empty[:2] if math.isinf(size) else empty[2:]) if reason]
            odds = f"the odds ratio is {'infinite' if math.isinf(size) else '0'} because {' and '.join(reasons)}"
        else:
            odds = f"odds ratio {size:.3g} (odds of failure in {second} against {first})"
        return f"Failures by {label}: Fisher's exact test, {p_text} ({verdict}); {odds}."
    return f"Failures by {label}: chi-square test, {p_text} ({verdict}); Cramér's V {result['effect_size']:.2f}."


def fisher_p(a_fail: int, a_total: int, b_fail: int, b_total: int, alternative: str = "greater") -> float:
    """Return Fisher's exact p-value that group a fails more often than group b."""
    from scipy import stats

    table = [[a_fail, a_total - a_fail], [b_fail, b_total - b_fail]]
    return float(stats.fisher_exact(table, alternative=alternative)[1])


def stage_funnel(sessions: pd.DataFrame) -> pd.DataFrame:
    """Return how many sessions passed each protocol stage and how many failed there.

    A session passed a stage when it got beyond it: its
    ``last_stage_reached`` is that stage or a later one, or it failed at a
    later stage.  A stage the session skipped counts as passed once the
    session got beyond it: STARTTLS on a plain or implicit-TLS connection,
    and the ``tls`` row on a plain one.  Stages follow the order of
    :class:`~smtplogkit.labels.Stage`, so a STARTTLS session whose TLS
    handshake failed sits at the ``tls`` row, after connect.  With this
    definition ``reached`` never grows from one stage to the next.

    Returns
    -------
    pandas.DataFrame
        Indexed by stage (``attempted`` first, then connect, tls, ... data):
        ``reached`` (sessions that passed the stage or failed at it),
        ``passed``, ``failed_here`` (sessions whose ``failure_stage`` is that
        stage) and ``share`` (``passed`` as a share of all attempts).
    """
    passed_order = sessions["last_stage_reached"].astype("string").map(_stage_position)
    failed_stage = sessions["failure_stage"].astype("string")
    failed_order = failed_stage.where(failed_stage != Stage.NONE.value).map(_stage_position)
    total = len(sessions)
    dns_failures = int((failed_stage == Stage.DNS.value).sum())
    rows = [{"stage": "attempted", "passed": total - dns_failures, "failed_here": dns_failures}]
    for stage in FUNNEL_STAGES:
        position = STAGE_ORDER[stage]
        beyond = (passed_order >= position) | (failed_order > position)
        rows.append({"stage": stage.value, "passed": int(beyond.sum()),
                     "failed_here": int((failed_stage == stage.value).sum())})
    table = pd.DataFrame(rows).set_index("stage")
    table["reached"] = table["passed"] + table["failed_here"]
    table["share"] = table["passed"] / total if total else math.nan
    return table[["reached", "passed", "failed_here", "share"]]


def _stage_position(value: Any) -> int:
    """Return a stage's position in :data:`STAGE_ORDER`, or -1 for a missing stage."""
    return STAGE_ORDER[Stage(value)] if isinstance(value, str) else -1


def failures_by_hour_weekday(sessions: pd.DataFrame, failed: pd.Series | None = None, tz: str = "UTC") -> pd.DataFrame:
    """Return a weekday (rows, 0 = Monday) by hour (columns, 0-23) table of failure counts."""
    failed = failed_mask(sessions) if failed is None else failed.astype(bool)
    local = sessions.loc[failed & sessions["start"].notna(), "start"].dt.tz_convert(tz)
    table = pd.crosstab(local.dt.day_of_week.rename("weekday"), local.dt.hour.rename("hour"))
    return table.reindex(index=range(7), columns=range(24), fill_value=0)


@dataclass(slots=True)
class Threshold:
    """A step in the failure rate along one variable.

    Failures are rare at or below ``value`` and common above it.  ``cut`` is
    the smallest observed value of the upper group; ``value`` the midpoint
    between the groups.
    """

    variable: str
    value: float
    cut: float
    below: Rate
    above: Rate
    p_value: float
    codes_above: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """Return the threshold and its evidence as plain values."""
        return {"variable": self.variable, "value": _round(self.value, 3), "below": self.below.as_dict(),
                "above": self.above.as_dict(), "p_value": float(f"{self.p_value:.3g}"), "codes_above": self.codes_above}


def estimate_threshold(values: pd.Series, failed: pd.Series, *, variable: str = "", min_side: int = 5,
                       codes: pd.Series | None = None) -> Threshold | None:
    """Estimate the value above which failures start, with a two-rate step fit.

    Every cut between two distinct observed values is scored by the binomial
    log-likelihood of one failure rate below and another above it.  The best
    cut with a higher rate above wins.  Fisher's exact test on the resulting
    2x2 table gives the p-value.

    Parameters
    ----------
    values
        The variable (burst count, token age, idle gap).  NaN rows are left
        out.
    failed
        Boolean mask, aligned with ``values``.
    variable
        Name stored in the result.
    min_side
        Minimum sessions on each side of the cut.
    codes
        Optional reply codes (text) per session, tallied for failures above
        the cut.

    Returns
    -------
    Threshold or None
        None when fewer than ``2 * min_side`` sessions have a value or no cut
        raises the failure rate.
    """
    valid = values.notna()
    x = values[valid].astype(float).to_numpy()
    y = failed[valid].astype(bool).to_numpy()
    if len(x) < 2 * min_side or y.sum() == 0:
        return None
    order = np.argsort(x, kind="stable")
    x, y = x[order], y[order]
    index = valid[valid].index[order]
    best = _best_cut(x, y, min_side)
    if best is None:
        return None
    split = best
    below_fail, below_n = int(y[:split].sum()), split
    above_fail, above_n = int(y[split:].sum()), len(y) - split
    p_value = fisher_p(above_fail, above_n, below_fail, below_n)
    tally: dict[str, int] = {}
    if codes is not None:
        above_index = index[split:][y[split:]]
        tally = {str(k): int(v) for k, v in codes.loc[above_index].astype("string").fillna("(none)").value_counts().items()}
    return Threshold(variable, float((x[split - 1] + x[split]) / 2), float(x[split]), Rate.of(below_fail, below_n),
                     Rate.of(above_fail, above_n), p_value, tally)


def _best_cut(x: np.ndarray, y: np.ndarray, min_side: int) -> int | None:
    """Index of the first element of the upper group in the best two-rate split."""
    n = len(x)
    fails_before = np.concatenate([[0], np.cumsum(y)])
    candidates = np.nonzero(x[1:] != x[:-1])[0] + 1  # a cut may not split equal values
    candidates = candidates[(candidates >= min_side) & (candidates <= n - min_side)]
    if not len(candidates):
        return None
    k1 = fails_before[candidates]
    n1 = candidates
    k2 = fails_before[-1] - k1
    n2 = n - n1
    score = _loglik(k1, n1) + _loglik(k2, n2)
    score = np.where(k2 / n2 > k1 / n1, score, -np.inf)
    if not np.isfinite(score).any():
        return None
    return int(candidates[int(np.argmax(score))])


def _loglik(k: np.ndarray, n: np.ndarray) -> np.ndarray:
    p = k / n
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(k > 0, k * np.log(p), 0.0) + np.where(n - k > 0, (n - k) * np.log1p(-p), 0.0)
    return terms


@dataclass(slots=True)
class ChangePoint:
    """A time where the failure rate of one group changes."""

    time: pd.Timestamp
    before: Rate
    after: Rate
    p_value: float

    @property
    def direction(self) -> str:
        """``starts`` when failures become more common at this time, else ``stops``."""
        return "starts" if self.after.rate > self.before.rate else "stops"

    def as_dict(self) -> dict[str, Any]:
        """Return the change point as plain values."""
        return {"time": self.time.isoformat(), "direction": self.direction, "before": self.before.as_dict(),
                "after": self.after.as_dict(), "p_value": float(f"{self.p_value:.3g}")}


def change_points(times: pd.Series, failed: pd.Series, *, min_size: int = 5, alpha: float = 1e-3,
                  max_points: int = 4) -> list[ChangePoint]:
    """Find times where a failure starts or stops, by binary segmentation.

    Each segment is split at the best two-rate cut in time order.  The split
    is kept when Fisher's exact test on the two sides gives ``p < alpha`` and
    each side has at least ``min_size`` sessions.

    Returns
    -------
    list of ChangePoint
        In time order; the rates compare the neighbouring segments.
    """
    valid = times.notna()
    order = np.argsort(times[valid].to_numpy(), kind="stable")
    t = times[valid].to_numpy()[order]
    y = failed[valid].astype(bool).to_numpy()[order]
    cuts: list[int] = []
    _segment(y, 0, len(y), min_size, alpha, max_points, cuts)
    cuts.sort()
    bounds = [0, *cuts, len(y)]
    points = []
    for i, cut in enumerate(cuts):
        lo, hi = bounds[i], bounds[i + 2]
        before = Rate.of(int(y[lo:cut].sum()), cut - lo)
        after = Rate.of(int(y[cut:hi].sum()), hi - cut)
        p = fisher_p(after.count, after.total, before.count, before.total, alternative="two-sided")
        points.append(ChangePoint(pd.Timestamp(t[cut]), before, after, p))
    return points


def _segment(y: np.ndarray, lo: int, hi: int, min_size: int, alpha: float, max_points: int, cuts: list[int]) -> None:
    if len(cuts) >= max_points or hi - lo < 2 * min_size:
        return
    part = y[lo:hi]
    n = len(part)
    positions = np.arange(min_size, n - min_size + 1)
    fails_before = np.concatenate([[0], np.cumsum(part)])
    k1, k2 = fails_before[positions], fails_before[-1] - fails_before[positions]
    score = _loglik(k1, positions) + _loglik(k2, n - positions)
    if not len(score):
        return
    cut = int(positions[int(np.argmax(score))])
    p = fisher_p(int(k2[cut - min_size]), n - cut, int(k1[cut - min_size]), cut, alternative="two-sided")
    if p >= alpha:
        return
    cuts.append(lo + cut)
    _segment(y, lo, lo + cut, min_size, alpha, max_points, cuts)
    _segment(y, lo + cut, hi, min_size, alpha, max_points, cuts)


def change_points_by(sessions: pd.DataFrame, by: str, failed: pd.Series, **options: Any) -> pd.DataFrame:
    """Return change points of a failure per label value (a network that worked until Tuesday 14:00).

    Returns
    -------
    pandas.DataFrame
        One row per change point: the label value, ``time``, ``direction``
        (starts / stops), rates before and after, and ``p_value``.
    """
    rows = []
    for value, group in sessions.groupby(by, observed=True):
        for point in change_points(group["start"], failed.loc[group.index], **options):
            rows.append({by: value, "time": point.time, "direction": point.direction,
                         "rate_before": point.before.rate, "rate_after": point.after.rate,
                         "sessions_before": point.before.total, "sessions_after": point.after.total,
                         "p_value": point.p_value})
    return pd.DataFrame(rows, columns=[by, "time", "direction", "rate_before", "rate_after", "sessions_before",
                                       "sessions_after", "p_value"])


def cause_first_last_seen(sessions: pd.DataFrame, failed: pd.Series) -> pd.DataFrame:
    """Return, per cause of the failed sessions, when it was first and last seen and how often.

    Returns
    -------
    pandas.DataFrame
        Indexed by cause, most frequent first: ``first_seen`` and
        ``last_seen`` (the earliest and latest ``start``), ``sessions`` (every
        failed session of that cause) and ``undated`` (those without a
        ``start``, as in logs that print no time, which the two times leave out).
    """
    frame = sessions.loc[failed, ["cause", "start"]].assign(cause=lambda f: f["cause"].astype("string"))
    grouped = frame.groupby("cause")["start"]
    table = pd.DataFrame({
        "first_seen": grouped.min(),
        "last_seen": grouped.max(),
        "sessions": grouped.size(),
        "undated": grouped.size() - grouped.count(),
    })
    return table.sort_values("sessions", ascending=False, kind="stable")

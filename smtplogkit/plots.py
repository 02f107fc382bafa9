"""Matplotlib figures for incident reports.

Every function takes the sessions DataFrame (enriched or not), draws on
``ax`` when given or on a new figure, and returns the Figure.  None of them
calls ``plt.show()``.  matplotlib is imported inside each function, so
importing this module stays cheap.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from .analysis import estimate_threshold, failed_mask, failure_rate, failures_by_hour_weekday, stage_funnel
from .enrichment import enrich

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
AUTH_CAUSES = ("oauth_token_invalid", "auth_failed")
RATE_LIMIT_CAUSES = ("rate_limited",)


def _axes(ax: Any, size: tuple[float, float] = (8, 4.5)):
    import matplotlib.pyplot as plt

    if ax is None:
        figure, ax = plt.subplots(figsize=size, layout="constrained")
        return figure, ax
    return ax.figure, ax


def _with(sessions: pd.DataFrame, column: str) -> pd.DataFrame:
    return sessions if column in sessions.columns else enrich(sessions)


def plot_stage_funnel(sessions: pd.DataFrame, ax: Any = None):
    """Draw how many sessions passed each protocol stage, and how many failed there.

    A session that failed at a stage did not pass it, so its bar segment
    sits after the stage's "passed" bar.  A stage a session skipped (STARTTLS
    on a plain or implicit-TLS connection) counts as passed once the session
    got beyond it, so the bars never grow from one stage to the next (see
    :func:`smtplogkit.analysis.stage_funnel`).
    """
    figure, ax = _axes(ax)
    funnel = stage_funnel(sessions)
    positions = np.arange(len(funnel))
    ax.barh(positions, funnel["passed"], color="tab:blue", label="passed (or skipped) this stage")
    ax.barh(positions, funnel["failed_here"], left=funnel["passed"], color="tab:red", label="failed at this stage")
    ax.set_yticks(positions, funnel.index)
    ax.invert_yaxis()
    ax.set_xlabel("sessions")
    ax.set_ylabel("protocol stage")
    ax.set_title(f"SMTP stage funnel ({len(sessions)} connection attempts)")
    # Below the axes: inside, the legend would cover the last stages, whose bars are the shortest.
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.18), ncols=2, frameon=False)
    return figure


def plot_failures_over_time(sessions: pd.DataFrame, freq: str = "1h", top: int = 6, ax: Any = None):
    """Draw failed sessions per time bin, stacked by cause (the ``top`` causes, the rest as "other")."""
    figure, ax = _axes(ax, (10, 4.5))
    failed = sessions[failed_mask(sessions) & sessions["start"].notna()]
    if failed.empty:
        ax.text(0.5, 0.5, "no failed sessions with a timestamp", ha="center", va="center", transform=ax.transAxes)
    else:
        cause = failed["cause"].astype("string")
        keep = cause.value_counts().index[:top]
        cause = cause.where(cause.isin(keep), "other")
        table = pd.crosstab(failed["start"].dt.floor(freq), cause)
        table = table.reindex(pd.date_range(table.index.min(), table.index.max(), freq=freq), fill_value=0)
        bottom = np.zeros(len(table))
        width = pd.Timedelta(freq) * 0.9
        for name in table.columns:
            ax.bar(table.index, table[name], width=width, bottom=bottom, align="edge", label=str(name))
            bottom += table[name].to_numpy()
        ax.legend(title="cause", fontsize="small")
        figure.autofmt_xdate()
    ax.set_xlabel("time (UTC)")
    ax.set_ylabel(f"failed sessions per {freq}")
    ax.set_title("Failures over time by cause")
    return figure


def plot_hour_weekday(sessions: pd.DataFrame, tz: str = "UTC", ax: Any = None):
    """Draw a weekday by hour heatmap of failed sessions in time zone ``tz``."""
    figure, ax = _axes(ax, (10, 3.8))
    table = failures_by_hour_weekday(sessions, tz=tz)
    image = ax.imshow(table.to_numpy(), aspect="auto", cmap="Reds")
    ax.set_yticks(range(7), WEEKDAYS)
    ax.set_xticks(range(0, 24, 2), [str(h) for h in range(0, 24, 2)])
    ax.set_xlabel(f"hour of day ({tz})")
    ax.set_ylabel("day of week")
    ax.set_title("Failed sessions by weekday and hour")
    figure.colorbar(image, ax=ax, label="failed sessions")
    return figure


def _binned_rate(values: pd.Series, failed: pd.Series, bins: int) -> pd.DataFrame:
    valid = values.notna()
    cut = pd.cut(values[valid], bins=bins)
    grouped = failed[valid].groupby(cut, observed=True)
    table = pd.DataFrame({"sessions": grouped.size(), "failures": grouped.sum()})
    table["rate"] = table["failures"] / table["sessions"]
    table["centre"] = [interval.mid for interval in table.index]
    return table


def _threshold_line(ax: Any, value: float | None, label: str) -> None:
    if value is not None and not math.isnan(value):
        ax.axvline(value, color="black", linestyle="--", label=label)


def plot_burst_rate(sessions: pd.DataFrame, column: str = "burst_identity_1m", threshold: float | None = None,
                    causes=RATE_LIMIT_CAUSES, ax: Any = None):
    """Draw the throttle rate against burst rate, with the estimated threshold.

    ``threshold`` defaults to the estimate of
    :func:`smtplogkit.analysis.estimate_threshold` on ``column``.
    """
    frame = _with(sessions, column)
    failed = failed_mask(frame, causes)
    if threshold is None:
        step = estimate_threshold(frame[column], failed)
        threshold = math.floor(step.value) if step is not None else None
    figure, ax = _axes(ax)
    values = frame[column]
    table = failed[values.notna()].groupby(values[values.notna()]).agg(["size", "mean"])
    ax.plot(table.index, table["mean"], marker="o", linestyle="-", label="throttled share")
    _threshold_line(ax, threshold, f"estimated threshold: {threshold}")
    window = "1 minute" if column.endswith("1m") else "10 minutes"
    basis = "identity" if "identity" in column else "network"
    ax.set_xlabel(f"attempts by the same {basis} in the last {window}")
    ax.set_ylabel("share of sessions throttled")
    ax.set_ylim(-0.02, 1.02)
    ax.set_title("Throttling against burst rate")
    ax.legend()
    return figure


def plot_token_age(sessions: pd.DataFrame, threshold: float | None = None, bins: int = 30, ax: Any = None):
    """Draw the OAuth sign-in failure rate against token age, with the estimated threshold."""
    frame = _with(sessions, "token_age_s")
    failed = failed_mask(frame, AUTH_CAUSES)
    oauth = frame[frame["token_age_s"].notna()]
    figure, ax = _axes(ax)
    if oauth.empty:
        ax.text(0.5, 0.5, "no OAuth sessions with a token age", ha="center", va="center", transform=ax.transAxes)
    else:
        if threshold is None:
            step = estimate_threshold(oauth["token_age_s"], failed.loc[oauth.index])
            threshold = math.floor(step.value) if step is not None else None
        table = _binned_rate(oauth["token_age_s"] / 60, failed.loc[oauth.index], bins)
        ax.bar(table["centre"], table["rate"], width=(table["centre"].diff().median() or 1) * 0.9,
               label="sign-ins rejected")
        _threshold_line(ax, threshold / 60 if threshold is not None else None,
                        f"estimated threshold: {threshold} s" if threshold is not None else "")
        basis = oauth["token_age_basis"].astype("string").mode()
        if len(basis) and basis.iloc[0] == "estimated":
            ax.annotate("token ages estimated from the first success after failures", (0.01, 0.95),
                        xycoords="axes fraction", fontsize="small", va="top")
        ax.legend(loc="center left")
    ax.set_xlabel("token age (minutes since last refresh)")
    ax.set_ylabel("share of OAuth sign-ins rejected")
    ax.set_ylim(0, 1.05)
    ax.set_title("OAuth sign-in failures against token age")
    return figure


def plot_failure_rate_by(sessions: pd.DataFrame, by: str = "network", causes=None, ax: Any = None):
    """Draw the failure rate per label value with 95% Wilson intervals."""
    frame = _with(sessions, by)
    failed = failed_mask(frame, causes)
    table = failure_rate(frame, by, failed).sort_values("rate", ascending=False)
    figure, ax = _axes(ax)
    positions = np.arange(len(table))
    errors = np.vstack([table["rate"] - table["low"], table["high"] - table["rate"]])
    ax.bar(positions, table["rate"], yerr=errors, capsize=4, color="tab:red", alpha=0.8)
    ax.set_xticks(positions, [f"{name}\n(n={n})" for name, n in zip(table.index, table["sessions"])])
    ax.set_xlabel(f"{by} (n = sessions)")
    ax.set_ylabel("failure rate (95% Wilson interval)")
    ax.set_ylim(0, 1.05)
    measure = "failure rate" if causes is None else f"{', '.join(causes)} rate"
    ax.set_title(f"{measure.capitalize()} by {by}")
    return figure

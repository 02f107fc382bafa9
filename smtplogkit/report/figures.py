"""Figures for the incident report, drawn with matplotlib and kept as PNG bytes.

Figures are drawn on :class:`matplotlib.figure.Figure` objects directly (no
pyplot), so building a report never opens a window or changes the
notebook's backend.
"""

from __future__ import annotations

import io
from typing import Any

PNG_DPI = 110


def figure_png(figure) -> bytes:
    """Return a figure rendered as PNG bytes."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=PNG_DPI, bbox_inches="tight")
    return buffer.getvalue()


def timeline_figure(timeline, *, tz: str, title: str = "Failed sessions over time, by cause"):
    """Draw failed sessions per time bin as bars stacked by cause.

    Parameters
    ----------
    timeline : pandas.DataFrame
        Index of bin start times, one column of counts per cause.
    tz : str
        Zone named in the x-axis label.
    """
    from matplotlib.figure import Figure

    figure = Figure(figsize=(9, 3.6))
    ax = figure.add_subplot()
    if timeline.empty:
        ax.text(0.5, 0.5, "no failed sessions", ha="center", va="center", transform=ax.transAxes)
    else:
        width = _bar_width(timeline.index)
        bottom = None
        colours = _cause_colours(timeline.columns)
        for cause in timeline.columns:
            values = timeline[cause].to_numpy()
            ax.bar(timeline.index, values, width=width, bottom=bottom, align="edge", label=cause,
                   color=colours[cause], linewidth=0)
            bottom = values if bottom is None else bottom + values
        ax.legend(fontsize="small", ncols=2, loc="upper left", frameon=False)
        figure.autofmt_xdate()
    ax.set_title(title)
    ax.set_xlabel(f"session start ({tz})")
    ax.set_ylabel("failed sessions")
    return figure


def funnel_figure(funnel, title: str = "Stage funnel: sessions that reached each stage"):
    """Draw the stage funnel as horizontal bars, failures at each stage in red.

    Parameters
    ----------
    funnel : pandas.DataFrame
        Columns ``stage``, ``reached`` and ``failed``, in protocol order.
    """
    from matplotlib.figure import Figure

    figure = Figure(figsize=(7, 0.35 * max(len(funnel), 3) + 1.2))
    ax = figure.add_subplot()
    stages = list(funnel["stage"])
    positions = range(len(stages))
    ax.barh(positions, funnel["reached"], color="#9ab7d3", label="reached")
    ax.barh(positions, funnel["failed"], color="#c8553d", label="failed at this stage")
    ax.set_yticks(list(positions), stages)
    ax.invert_yaxis()
    ax.set_xlabel("sessions")
    ax.set_title(title)
    ax.legend(fontsize="small", loc="lower right", frameon=False)
    return figure


def rate_figure(table, label: str, title: str | None = None):
    """Draw the failure rate per label value with its 95% Wilson interval.

    Parameters
    ----------
    table : pandas.DataFrame
        Indexed by label value, with columns ``failure_rate``, ``rate_low``
        and ``rate_high`` (fractions).
    """
    from matplotlib.figure import Figure

    figure = Figure(figsize=(7, 0.35 * max(len(table), 3) + 1.2))
    ax = figure.add_subplot()
    positions = list(range(len(table)))
    rates = table["failure_rate"].to_numpy(dtype=float)
    errors = [rates - table["rate_low"].to_numpy(dtype=float), table["rate_high"].to_numpy(dtype=float) - rates]
    ax.barh(positions, rates, xerr=errors, color="#c8553d", ecolor="#333333", capsize=3)
    ax.set_yticks(positions, [str(value) for value in table.index])
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_xlabel("failure rate (95% Wilson interval)")
    ax.set_title(title or f"Failure rate by {label}")
    return figure


def _bar_width(index) -> Any:
    import pandas as pd

    if len(index) > 1:
        return (index[1] - index[0]) * 0.9
    return pd.Timedelta(hours=1) * 0.9


def _cause_colours(causes) -> dict[str, Any]:
    from matplotlib import colormaps

    palette = colormaps["tab20"]
    return {cause: palette(index % 20) for index, cause in enumerate(causes)}

"""Figures for the incident report, drawn with matplotlib and kept as PNG bytes.

Figures are drawn on :class:`matplotlib.figure.Figure` objects created
without pyplot (the plots of :mod:`smtplogkit.plots` draw on axes passed
in), so building a report never opens a window, changes the notebook's
backend or leaves figures in pyplot's registry.
"""

from __future__ import annotations

import io
from typing import Any

PNG_DPI = 110
# Space above the tallest bar of the timeline, as a fraction of its height.
HEADROOM = 0.1


def figure_png(figure) -> bytes:
    """Return a figure rendered as PNG bytes."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=PNG_DPI, bbox_inches="tight")
    return buffer.getvalue()


def new_axes(size: tuple[float, float]):
    """Return the axes of a new figure that is not registered with pyplot."""
    from matplotlib.figure import Figure

    return Figure(figsize=size, layout="constrained").add_subplot()


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
    from matplotlib.ticker import MaxNLocator

    figure = Figure(figsize=(10, 4.5), layout="constrained")
    ax = figure.add_subplot()
    if timeline.empty:
        ax.text(0.5, 0.5, "no failed session with a timestamp", ha="center", va="center", transform=ax.transAxes)
    else:
        width = _bar_width(timeline.index)
        bottom = None
        colours = _cause_colours(timeline.columns)
        for cause in timeline.columns:
            values = timeline[cause].to_numpy()
            ax.bar(timeline.index, values, width=width, bottom=bottom, align="edge", label=cause,
                   color=colours[cause], linewidth=0)
            bottom = values if bottom is None else bottom + values
        # Headroom above the tallest bar, so it never touches the top of the axes.
        tallest = float(bottom.max()) if bottom is not None else 0.0
        ax.set_ylim(0, max(tallest * (1 + HEADROOM), tallest + 1))
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        # Outside the axes, so the legend never covers a bar.
        ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
        figure.autofmt_xdate()
    ax.set_title(title)
    ax.set_xlabel(f"session start ({tz})")
    ax.set_ylabel("failed sessions")
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

"""Interactive controls for the notebooks, built on ipywidgets.

Each class owns an ipywidgets layout in its ``layout`` attribute and shows it
when it is the last expression of a cell.  The controls are ordinary widget
attributes, so a test (or a script) drives them by setting ``.value`` with no
kernel running, and reads the result from ``selected`` or the output widgets'
``value``.  ipywidgets is imported when a control is built, so importing this
module does not need it.

Example::

    panel = FilterPanel(sessions)
    browser = SessionBrowser(sessions, events)
    panel.link(browser)
    panel       # in a notebook: the filters, figures and table
    browser     # one session's redacted transcript
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from .analysis import failed_mask
from .reader import FAILED_EVENTS
from .report import figures
from .report.model import events_in_log_order, failures_timeline, format_time, session_transcript, timeline_bin

logger = logging.getLogger(__name__)

# Labels offered as filters when the sessions carry them.
FILTER_LABELS = ("network", "identity")
TABLE_COLUMNS = ["start", "network", "identity", "host", "port", "failure_stage", "cause", "reply_code",
                 "enhanced_code", "source", "line"]
MAX_TABLE_ROWS = 25
# A dropdown with tens of thousands of options makes the browser sluggish.
MAX_BROWSER_OPTIONS = 2000


def _widgets():
    import ipywidgets

    return ipywidgets


def _options(series) -> list[str]:
    return sorted(str(value) for value in series.dropna().astype("string").unique())


class FilterPanel:
    """Filter sessions by network, identity, stage, cause and time range.

    The figures (failures over time by cause, stage funnel), the counts and
    the table of matching sessions update whenever a control changes.  An
    empty selection in a multiple-choice control means "all".

    Parameters
    ----------
    sessions : pandas.DataFrame
        Rows from :func:`smtplogkit.read_logs`.
    tz : str, optional
        Zone for the time slider and figures (default: the zone the logs were
        read in).
    failed_only : bool
        Start with only failed sessions selected.
    """

    def __init__(self, sessions, *, tz: str | None = None, failed_only: bool = True) -> None:
        widgets = _widgets()
        self.sessions = sessions
        self.tz = tz or sessions.attrs.get("tz") or "UTC"
        self._listeners: list[Callable[[Any], None]] = []

        self.filters = {}
        for label in FILTER_LABELS:
            values = _options(sessions[label]) if label in sessions.columns else []
            self.filters[label] = widgets.SelectMultiple(options=values, description=label, rows=min(6, max(len(values), 2)),
                                                         disabled=not values)
        self.filters["stage"] = widgets.SelectMultiple(options=_options(sessions["failure_stage"]), description="stage",
                                                       rows=6)
        self.filters["cause"] = widgets.SelectMultiple(options=_options(sessions["cause"]), description="cause", rows=6)
        self.failed_only = widgets.Checkbox(value=failed_only, description="failed sessions only")
        self.time_range = self._time_slider(widgets)

        self.counts = widgets.HTML()
        self.timeline = widgets.Image(format="png")
        self.funnel = widgets.Image(format="png")
        self.table = widgets.HTML()
        for control in [*self.filters.values(), self.failed_only, self.time_range]:
            control.observe(self._on_change, names="value")
        self.layout = widgets.VBox([
            widgets.HBox(list(self.filters.values())),
            widgets.HBox([self.time_range, self.failed_only]),
            self.counts,
            widgets.HBox([self.timeline, self.funnel]),
            self.table,
        ])
        self.selected = sessions
        self.refresh()

    @property
    def network(self):
        """The network filter control."""
        return self.filters["network"]

    @property
    def identity(self):
        """The identity filter control."""
        return self.filters["identity"]

    @property
    def stage(self):
        """The failure-stage filter control."""
        return self.filters["stage"]

    @property
    def cause(self):
        """The cause filter control."""
        return self.filters["cause"]

    def _time_slider(self, widgets):
        import pandas as pd

        start = self.sessions["start"].dropna()
        if start.empty:
            return widgets.SelectionRangeSlider(options=["no times"], index=(0, 0), description="time", disabled=True)
        local = start.dt.tz_convert(self.tz)
        freq = timeline_bin(local.max() - local.min())
        edges = pd.date_range(local.min().floor(freq), local.max().floor(freq) + pd.Timedelta(freq), freq=freq)
        options = [(f"{edge:%m-%d %H:%M}", edge) for edge in edges]
        return widgets.SelectionRangeSlider(options=options, index=(0, len(options) - 1), description="time",
                                            layout=widgets.Layout(width="60%"))

    def link(self, browser: SessionBrowser) -> None:
        """Show the sessions this panel selects in ``browser``."""
        self._listeners.append(browser.set_sessions)
        browser.set_sessions(self.selected)

    def _on_change(self, change) -> None:
        self.refresh()

    def select(self):
        """Return the sessions that match the current control values."""
        frame = self.sessions
        keep = frame.index == frame.index
        for label, control in self.filters.items():
            if not control.value:
                continue
            column = "failure_stage" if label == "stage" else label
            keep &= frame[column].astype("string").isin(list(control.value)).fillna(False).to_numpy()
        if self.failed_only.value:
            keep &= failed_mask(frame).to_numpy()
        if not self.time_range.disabled and self.time_range.index != (0, len(self.time_range.options) - 1):
            # A narrowed range leaves out the sessions without a time; the whole range keeps them.
            low, high = self.time_range.value
            start = frame["start"].dt.tz_convert(self.tz)
            keep &= ((start >= low) & (start <= high)).fillna(False).to_numpy()
        return frame[keep]

    def refresh(self) -> None:
        """Recompute the selection and redraw the counts, figures and table."""
        from . import plots

        selected = self.select()
        self.selected = selected
        failed = failed_mask(selected)
        self.counts.value = (f"<b>{len(selected):,}</b> sessions selected, <b>{int(failed.sum()):,}</b> failed, "
                             f"of {len(self.sessions):,} read.")
        timeline, _ = failures_timeline(selected, failed, self.tz)
        self.timeline.value = figures.figure_png(figures.timeline_figure(timeline, tz=self.tz))
        self.funnel.value = figures.figure_png(plots.plot_stage_funnel(selected, ax=figures.new_axes((7, 4))))
        self.table.value = self._table_html(selected)
        for listener in self._listeners:
            listener(selected)

    def _table_html(self, selected) -> str:
        columns = [column for column in TABLE_COLUMNS if column in selected.columns]
        shown = selected[columns].head(MAX_TABLE_ROWS).copy()
        if "start" in shown.columns:
            shown["start"] = [format_time(value, self.tz) for value in shown["start"]]
        note = f"<p>First {MAX_TABLE_ROWS} of {len(selected):,} sessions.</p>" if len(selected) > MAX_TABLE_ROWS else ""
        return shown.to_html(index=False, escape=True, na_rep="") + note

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.layout)


class SessionBrowser:
    """Pick one session and read its redacted transcript with file and line numbers.

    Parameters
    ----------
    sessions : pandas.DataFrame
        Rows from :func:`smtplogkit.read_logs`.
    events : pandas.DataFrame
        Rows from :func:`smtplogkit.read_events` for the same inputs, or
        from ``load_logs(..., events="failed")``.  A session whose events
        are not there (a session without failure, when only failed ones
        were kept) is read again from its file when it is shown; see
        :func:`smtplogkit.reread.session_events`.
    tz : str, optional
        Zone for the times in the session list.
    """

    def __init__(self, sessions, events, *, tz: str | None = None) -> None:
        widgets = _widgets()
        self.all_sessions = sessions
        self.events = events
        self.tz = tz or sessions.attrs.get("tz") or "UTC"
        self.session = widgets.Dropdown(description="session", layout=widgets.Layout(width="95%"))
        self.details = widgets.HTML()
        self.transcript = widgets.HTML()
        self.session.observe(self._on_change, names="value")
        self.layout = widgets.VBox([self.session, self.details, self.transcript])
        self.set_sessions(sessions)

    def set_sessions(self, sessions) -> None:
        """Offer ``sessions`` in the list (at most :data:`MAX_BROWSER_OPTIONS`) and show the first."""
        shown = sessions.head(MAX_BROWSER_OPTIONS)
        options = [(self._option_label(row), str(row.session_id)) for row in shown.itertuples(index=False)]
        if len(sessions) > MAX_BROWSER_OPTIONS:
            logger.info("session browser lists the first %d of %d sessions", MAX_BROWSER_OPTIONS, len(sessions))
        self.session.options = options
        self.session.value = options[0][1] if options else None
        if not options:
            self.details.value = "<p>No session matches the filters.</p>"
            self.transcript.value = ""

    def _option_label(self, row) -> str:
        return f"{format_time(row.start, self.tz)}  {row.cause}  {row.source}:{row.line}"

    def _on_change(self, change) -> None:
        if change["new"] is not None:
            self.show(change["new"])

    def show(self, session_id: str) -> None:
        """Show the details and transcript of one session."""
        from html import escape

        from .report.html import transcript_html

        match = self.all_sessions[self.all_sessions["session_id"] == session_id]
        if match.empty:
            self.details.value = f"<p>Session {escape(session_id)} is not in the sessions read.</p>"
            self.transcript.value = ""
            return
        row = match.iloc[0]
        rows = self.events[self.events["session_id"] == session_id]
        note = ""
        if rows.empty or (self.events.attrs.get("events") == FAILED_EVENTS and str(row["cause"]) == "ok"):
            rows, note = self._read_again(session_id)
        rows = events_in_log_order(rows)
        fields = ["failure_stage", "cause", "outcome", "reply_code", "enhanced_code", "reply_text", "error_text",
                  "identity", "host", "port", "tls_mode", "network"]
        cells = "".join(f"<tr><th>{escape(name)}</th><td>{escape(str(row[name]))}</td></tr>"
                        for name in fields if name in row.index and str(row[name]) not in ("<NA>", "nan", "None"))
        self.details.value = f"<table>{cells}</table>"
        self.transcript.value = note + transcript_html(session_transcript(session_id, row, rows))

    def _read_again(self, session_id: str):
        """Return a session's events read again from its file, and a note for the page if that failed."""
        from html import escape

        from .errors import InputError
        from .reread import session_events

        try:
            rows = session_events(self.all_sessions, session_id, tz=self.tz, date=self.events.attrs.get("date"))
        except InputError as error:
            logger.info("transcript of %s not read again: %s", session_id, error)
            empty = self.events.iloc[0:0]
            return empty, f"<p>Transcript not kept in memory, and not read again: {escape(str(error))}</p>"
        if rows.empty:
            return rows, "<p>Transcript not kept in memory, and its file has changed since it was read.</p>"
        if not rows.attrs.get("complete", True):
            return rows, ("<p>This transcript ends where its file ends. The session may go on in a newer file of the "
                          "same log, which is not there now.</p>")
        return rows, ""

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.layout)

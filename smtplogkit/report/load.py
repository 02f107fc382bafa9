"""Reading logs for a report: paths, label templates, time window, progress.

The notebooks and ``smtplogkit report`` read through :func:`load_logs`, so
they see the same sessions from the same inputs.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from datetime import date as date_type
from datetime import tzinfo
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..inputs import expand, log_skipped

logger = logging.getLogger(__name__)

# Layout of the bundled sample data: one folder per network, one per worker.  A worker's
# rotated and compressed logs (app.log.1, app.log.2.gz, app.log.gz) carry its labels too.
DEFAULT_TEMPLATE = "{network}/{worker}/*.log{,.[0-9],.[0-9][0-9],-[0-9]*}{,.gz,.bz2,.xz}"


@dataclass
class LoadedLogs:
    """Sessions and events read from the same inputs, in the same time window."""

    sessions: Any
    events: Any
    paths: list[str]


def collect_paths(logs: str | os.PathLike | None = None, template: str | None = DEFAULT_TEMPLATE) -> list[str]:
    """Return the paths to read for a logs folder and a label template.

    Parameters
    ----------
    logs
        A file, folder, glob or ``{label}`` template; ``None`` means the
        bundled sample data.
    template
        A ``{label}`` template relative to ``logs`` when ``logs`` is a folder.
        The default, :data:`DEFAULT_TEMPLATE`, labels each session with its
        network and worker folder and matches ``*.log``, its rotations
        ``*.log.0`` to ``*.log.99`` and their ``.gz``, ``.bz2`` and ``.xz``
        forms.  Files in the folder that the template does not
        match (a relay's maillog next to the worker folders) are read too,
        without those labels.  ``None`` or ``""`` reads the folder as it is.

    Returns
    -------
    list of str
        Paths and templates for :func:`smtplogkit.read_logs`.
    """
    return _collect(logs, template)[0]


def _collect(logs, template: str | None) -> tuple[list[str], list[tuple[str, str]]]:
    """Return the paths to read and the files of a templated folder that are skipped as not logs."""
    if logs is None:
        from ..samples import sample_data_path

        logs = sample_data_path()
    folder = Path(logs)
    if not template or not folder.is_dir():
        return [str(logs)], []

    templated = str(folder / template)
    try:
        matched = {str(source.path) for source in expand(templated).sources}
    except InputError as error:
        logger.info("template %s matched no file (%s); reading %s as a folder", templated, error, folder)
        return [str(folder)], []
    everything = expand(str(folder))
    rest = [str(source.path) for source in everything.sources if str(source.path) not in matched]
    return [templated, *rest], list(everything.skipped)


def load_logs(logs: Any = None, *, template: str | None = DEFAULT_TEMPLATE, format: str = "auto",
              labels: dict[str, Any] | None = None, tz: str | tzinfo | None = "UTC", date: date_type | None = None,
              start: Any = None, end: Any = None, progress: bool | None = False,
              cache: str | os.PathLike | None = None, workers: int = 1, events: str = "all") -> LoadedLogs:
    """Read sessions and their events in one pass, limited to a time window.

    Parameters
    ----------
    logs, template
        What to read; see :func:`collect_paths`.  ``logs`` may also be a list
        of such paths; the template applies to each folder in it.
    format, labels, tz, date
        As for :func:`smtplogkit.read_logs`.
    start, end
        Keep sessions that started at or after ``start`` and before ``end``
        (ISO 8601 strings or timestamps; naive values are read in ``tz``).
        ``None`` leaves that side open.
    progress
        Show a progress bar while files are read: over each file's lines,
        and with ``workers`` above 1 or a ``cache``, over the files as each
        is parsed by a worker or loaded from the cache.  ``None`` shows it
        when stderr is a terminal or the code runs in Jupyter, as the
        command line does.
    cache
        A folder for a Parquet cache of each file's sessions and events
        (``None`` or ``""`` for none),
        keyed by path, size and modification time, as for
        :func:`smtplogkit.read_logs`.  A notebook opened again loads
        unchanged files from it instead of parsing them.
    workers
        Processes to parse files in, as for :func:`smtplogkit.read_logs`
        (each file in one process: a file is read in shares only when no
        events are kept).
    events
        ``"all"``, or ``"failed"`` to keep the events of failed sessions
        only, with every note and every line outside a session (the token
        refreshes).  For logs of millions of lines, where every event of
        every session would not fit in memory.  The session browser reads
        the transcript of a session without failure again from its file
        (:func:`smtplogkit.reread.session_events`); ``events.attrs["events"]``
        says which was kept.

    Returns
    -------
    LoadedLogs
        ``sessions`` and ``events`` DataFrames; both keep the per-file line
        counts in ``attrs["files"]``.
    """
    from ..reader import FAILED_EVENTS, events_frame, read, sessions_frame

    if workers < 1:
        raise ValueError(f"invalid workers {workers!r}: expected 1 or more")
    if cache is not None and os.fspath(cache) == "":
        cache = None  # "" means no cache, as it means no template (papermill's -p cache '')
    if events not in ("all", FAILED_EVENTS):
        raise ValueError(f"invalid events {events!r}: expected 'all' or '{FAILED_EVENTS}'")
    keep = True if events == "all" else FAILED_EVENTS
    items = list(logs) if isinstance(logs, (list, tuple)) and logs else [logs]
    paths, skipped = [], []
    for item in items:
        item_paths, item_skipped = _collect(item, template)
        paths += item_paths
        skipped += item_skipped
    if cache is not None or workers > 1:
        sessions, event_frame = _read_pooled(paths, skipped, format=format, labels=labels, tz=tz, date=date,
                                      cache=cache, workers=workers, keep=keep, progress=progress)
    else:
        result = read(paths, format=format, labels=labels, tz=tz, date=date, keep_events=keep, progress=progress)
        # read() reads and logs only the chosen paths, so the files the folder skipped are added here.
        log_skipped([item for item in skipped if item not in result.skipped])
        result.skipped = skipped + [item for item in result.skipped if item not in skipped]
        sessions = sessions_frame(result, tz)
        event_frame = events_frame(result)
    # What the session browser needs to read a dropped transcript again (see widgets.SessionBrowser).
    event_frame.attrs.update(events=events, date=None if date is None else str(date))
    sessions, event_frame = select_window(sessions, event_frame, start=start, end=end, tz=tz)
    return LoadedLogs(sessions, event_frame, paths)


def _read_pooled(paths: list[str], skipped: list[tuple[str, str]], *, format: str, labels: dict[str, Any] | None,
                 tz: str | tzinfo | None, date: date_type | None, cache: str | os.PathLike | None, workers: int,
                 keep: bool | str = True, progress: bool | None = False):
    """Return the sessions and events frames of ``paths`` through the cache and a process pool."""
    import pandas as pd

    from ..inputs import group_rotations
    from ..parallel import combine, read_frames
    from ..reader import ReadResult, as_date, events_frame

    expansion = expand(paths)
    skipped = skipped + [item for item in expansion.skipped if item not in skipped]
    log_skipped(skipped)
    options = {"format": format, "labels": labels or {}, "tz": tz, "date": as_date(date)}
    parts = read_frames(group_rotations(expansion.sources), options, workers=workers, cache_dir=cache,
                        keep_events=keep, progress=progress)
    sessions = combine([(frame, reports) for frame, reports, _ in parts], skipped, tz)
    frames = [events for _, _, events in parts if len(events)]
    events = pd.concat(frames, ignore_index=True) if frames else events_frame(ReadResult())
    events.attrs.update(files=sessions.attrs["files"], skipped=list(skipped))
    return sessions, events


def select_window(sessions, events=None, *, start: Any = None, end: Any = None, tz: str | tzinfo | None = "UTC"):
    """Return the sessions (and their events) that started in ``[start, end)``.

    The ``attrs`` of both frames are kept, with the window added as
    ``attrs["window"]``.
    """
    import pandas as pd

    keep = pd.Series(True, index=sessions.index)
    bounds = {}
    for name, value, compare in (("start", start, "ge"), ("end", end, "lt")):
        if value is None or value == "":
            continue
        stamp = pd.Timestamp(value)
        if stamp.tzinfo is None:
            stamp = stamp.tz_localize(str(tz or "UTC"))
        stamp = stamp.tz_convert("UTC")
        keep &= getattr(sessions["start"], compare)(stamp).fillna(False)
        bounds[name] = stamp.isoformat()
    if not bounds:
        return sessions, events

    selected = sessions[keep].copy()
    selected.attrs = {**sessions.attrs, "window": bounds}
    if events is None:
        return selected, None
    chosen = events[events["session_id"].isin(selected["session_id"])].copy()
    chosen.attrs = {**events.attrs, "window": bounds}
    return selected, chosen


def report_from_logs(logs: Any = None, *, template: str | None = DEFAULT_TEMPLATE, format: str = "auto",
                     labels: dict[str, Any] | None = None, tz: str | tzinfo | None = "UTC",
                     date: date_type | None = None, start: Any = None, end: Any = None,
                     title: str = "SMTP incident report", progress: bool | None = False,
                     cache: str | os.PathLike | None = None, workers: int = 1, events: str = "failed"):
    """Read logs, run the diagnosis and build the incident report.

    ``smtplogkit report`` and the incident-report notebook both call this, so
    the same inputs give the same report.  The arguments are those of
    :func:`load_logs`, plus the report ``title``.  ``events`` is
    ``"failed"`` by default because the report shows the transcripts of
    failed sessions only.

    Returns
    -------
    smtplogkit.report.Report
    """
    from .model import build_report

    loaded = load_logs(logs, template=template, format=format, labels=labels, tz=tz, date=date, start=start,
                       end=end, progress=progress, cache=cache, workers=workers, events=events)
    return build_report(loaded.sessions, loaded.events, title=title, tz=str(tz or "UTC"))

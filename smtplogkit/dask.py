"""Sessions as a Dask DataFrame, for fleets of logs past one machine.

``read_logs`` here takes the same arguments as :func:`smtplogkit.read_logs`
and returns a Dask DataFrame with one partition per input file (or chain
of rotations of one log, read as one stream) and exactly
the pandas reader's columns and dtypes, so the analysis functions accept it
after filtering and ``.compute()``.  Paths with a protocol (``s3://``,
``gcs://``, ``memory://``) are opened through fsspec.

Requires the ``dask`` extra: ``pip install 'smtplogkit[dask]'``.
"""

from __future__ import annotations

import io
import re
from datetime import date, tzinfo
from typing import Any

from .inputs import Source, expand, group_rotations

PROTOCOL_RE = re.compile(r"^[a-z][a-z0-9+.-]*://", re.IGNORECASE)


def _remote_sources(patterns: list[str]) -> list[Source]:
    """Expand remote globs with fsspec; each file becomes a source named by its URL."""
    import fsspec

    sources = []
    for pattern in patterns:
        for opened in fsspec.open_files(pattern, mode="rb"):
            sources.append(Source(opened.fs.unstrip_protocol(opened.path)))
    return sources


def _partition(source: Source, options: dict[str, Any]):
    from .parallel import read_source_frame

    if source.path is None and source.stream is None and PROTOCOL_RE.match(source.name):
        import fsspec

        with fsspec.open(source.name, mode="rb", compression="infer") as handle:
            text = io.TextIOWrapper(handle, encoding="utf-8", errors="replace", newline=None)
            frame, _ = read_source_frame(Source(source.name, stream=text, labels=source.labels), options)
            return frame
    frame, _ = read_source_frame(source, options)
    frame.attrs = {}
    return frame


def read_logs(paths: Any, *, format: str = "auto", labels: dict[str, Any] | None = None,
              tz: str | tzinfo | None = None, date: date | str | None = None):
    """Return a Dask DataFrame of sessions, one partition per input file or chain of rotations.

    Takes the arguments of :func:`smtplogkit.read_logs` except ``workers``
    and ``cache``: Dask's scheduler decides where partitions are parsed.
    """
    import dask.dataframe as dd

    from .reader import SESSION_COLUMNS, apply_session_dtypes, as_date

    items = [paths] if isinstance(paths, str) else [str(p) for p in paths]
    remote = [p for p in items if PROTOCOL_RE.match(p) and not p.startswith("file://")]
    local = [p.removeprefix("file://") for p in items if p not in remote]
    sources = group_rotations(expand(local).sources) if local else []
    if remote:
        sources += _remote_sources(remote)

    options = {"format": format, "labels": labels or {}, "tz": tz, "date": as_date(date)}
    label_names = sorted({*(labels or {}), *(name for s in sources for name in s.labels)})
    import pandas as pd

    meta = apply_session_dtypes(pd.DataFrame(columns=SESSION_COLUMNS + label_names))
    if not sources:
        return dd.from_pandas(meta, npartitions=1)
    return dd.from_map(_partition, sources, options=options, meta=meta, enforce_metadata=False,
                       label="smtplogkit-sessions")

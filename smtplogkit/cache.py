"""A Parquet cache of parsed sessions, and optionally their events, one entry per input log.

The key covers the input's absolute path, size and modification time, every
option that changes the result (format, labels, timezone, date) and the
smtplogkit version.  A log that grows while an incident is live is therefore
parsed again, and an unchanged one loads from Parquet.  The events of an
entry (``{key}.events.parquet``) are written only when a reader kept them
(:func:`smtplogkit.report.load_logs`); a reader that needs them parses an
entry without them again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path
from typing import Any

from .inputs import Chain, Source

logger = logging.getLogger(__name__)


def cache_key(source: Source, options: dict[str, Any]) -> str | None:
    """Return the cache key of one input, or ``None`` for an input that cannot be cached.

    Open streams have no stable identity, so they are never cached.  The key
    of a chain of rotations covers every file in it.
    """
    if source.path is None:
        return None
    files = []
    for part in source.parts if isinstance(source, Chain) else [source]:
        try:
            stat = part.path.stat()
        except OSError:
            return None
        files.append({"path": str(part.path.resolve()), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns})
    from . import __version__

    material = {
        **(files[0] if len(files) == 1 else {"files": files}),
        "labels": source.labels,
        "options": {k: str(v) for k, v in sorted(options.items())},
        "version": __version__,
    }
    return hashlib.sha256(json.dumps(material, sort_keys=True).encode()).hexdigest()[:32]


def _events_file(folder: str | os.PathLike, key: str, events: bool | str) -> Path:
    """Return where the events of an entry go: all of them, or only those ``keep_events="failed"`` keeps."""
    return Path(folder) / (f"{key}.events.parquet" if events is True else f"{key}.{events}-events.parquet")


def load(folder: str | os.PathLike, key: str, events: bool | str = False):
    """Return the cached sessions frame for ``key`` with its list of file reports, or ``None``.

    With ``events`` (True, or a ``keep_events`` value such as ``"failed"``),
    return ``(frame, reports, events)``, or ``None`` when the entry has no
    such events.
    """
    import pandas as pd

    table = Path(folder) / f"{key}.parquet"
    meta = Path(folder) / f"{key}.json"
    kept = _events_file(folder, key, events)
    if not (table.is_file() and meta.is_file()) or (events and not kept.is_file()):
        return None
    try:
        frame = pd.read_parquet(table)
        reports = json.loads(meta.read_text())
        event_frame = pd.read_parquet(kept) if events else None
    except (OSError, ValueError) as error:
        logger.warning("cache entry %s is unreadable, parsing again: %s", table, error)
        return None
    reports = reports if isinstance(reports, list) else [reports]  # entries of one file kept a bare report
    return (frame, reports, event_frame) if events else (frame, reports)


def store(folder: str | os.PathLike, key: str, frame, reports: list[dict[str, Any]], events=None,
          kept: bool | str = True) -> None:
    """Write one input's sessions frame and file reports, and its events if given, to the cache.

    ``kept`` is the ``keep_events`` value the events were read with.
    """
    path = Path(folder)
    try:
        path.mkdir(parents=True, exist_ok=True)
        if events is not None:
            _write(events, _events_file(path, key, kept))
        _write(frame, path / f"{key}.parquet")
        (path / f"{key}.json").write_text(json.dumps(reports, default=str))
    except OSError as error:
        # The sessions are read; only the next run has to parse this file again.
        logger.warning("cache entry %s not written, so the next read parses the file again: %s", path / key, error)


def _write(frame, target: Path) -> None:
    """Write a frame without its attrs to ``target`` through a temporary file, so a reader never sees half of it."""
    clean = frame.copy(deep=False)
    clean.attrs = {}
    partial = target.with_name(target.name + ".tmp")
    clean.to_parquet(partial, index=False)
    os.replace(partial, target)

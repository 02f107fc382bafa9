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
    table = Path(folder) / f"{key}.parquet"
    meta = Path(folder) / f"{key}.json"
    events_path = _events_file(folder, key, events)
    if not (table.is_file() and meta.is_file()) or (events and not events_path.is_file()):
        return None
    try:
        frame = _read(table)
        reports = json.loads(meta.read_text())
        event_frame = _read(events_path) if events else None
    except (OSError, ValueError) as error:
        logger.warning("cache entry %s is unreadable, parsing again: %s", table, error)
        return None
    reports = reports if isinstance(reports, list) else [reports]  # entries of one file kept a bare report
    return (frame, reports, event_frame) if events else (frame, reports)


def _read(path: Path):
    """Return the DataFrame in one Parquet file, as ``pandas.read_parquet`` would, with the C library's allocator.

    pyarrow's default allocator (mimalloc) asked the kernel for fresh memory
    for each large column.  A new process (a notebook opened again) spent 3
    to 7 s of system time on that for a million cached sessions.  With the C
    library's allocator the same load took about 0.6 s.
    """
    import pyarrow as pa
    import pyarrow.dataset as ds

    pool = pa.system_memory_pool()
    return ds.dataset(path, format="parquet").to_table(memory_pool=pool).to_pandas(memory_pool=pool)


def store(folder: str | os.PathLike, key: str, frame, reports: list[dict[str, Any]], events=None,
          keep_events: bool | str = True) -> OSError | None:
    """Write one input's sessions frame and file reports, and its events if given, to the cache.

    ``keep_events`` is the value the events were read with (True or
    ``"failed"``).  Return the error that kept the entry from being written,
    or ``None``: the sessions are read either way, so the caller reports the
    failures of a whole read once (see :func:`warn_not_written`).
    """
    path = Path(folder)
    try:
        path.mkdir(parents=True, exist_ok=True)
        if events is not None:
            _write(events, _events_file(path, key, keep_events))
        _write(frame, path / f"{key}.parquet")
        (path / f"{key}.json").write_text(json.dumps(reports, default=str))
    except OSError as error:
        return error
    return None


def warn_not_written(folder: str | os.PathLike, failures: list[tuple[str, OSError]], total: int) -> None:
    """Log one warning for the cache entries of a read that were not written, and which logs they were at DEBUG.

    ``failures`` lists ``(log name, error)``; ``total`` is the number of
    entries the read tried to write.
    """
    if not failures:
        return
    reasons = list(dict.fromkeys(_reason(error) for _, error in failures))
    logger.warning("cache folder %s: %d of %d entries not written (%s), so the next read parses those logs again. "
                   "Choose a cache folder that this user can create and write to, with free space, or read without one",
                   folder, len(failures), total, "; ".join(reasons))
    for name, error in failures:
        logger.debug("%s: not cached: %s", name, error)


def _reason(error: OSError) -> str:
    """Return an OSError's message without its file name, which is an entry's hash and differs for every log."""
    return error.strerror or str(error)


def _write(frame, target: Path) -> None:
    """Write a frame without its attrs to ``target`` through a temporary file, so a reader never sees half of it."""
    clean = frame.copy(deep=False)
    clean.attrs = {}
    partial = target.with_name(target.name + ".tmp")
    clean.to_parquet(partial, index=False)
    os.replace(partial, target)


def renamed(entry: tuple, names: list[str]) -> tuple:
    """Return a loaded entry with its files named as this read names them.

    The key goes by absolute path, but rows, events and reports carry the
    path as it was given (``relay/maillog`` or ``logs/relay/maillog``).  An
    entry written by a read from another folder is therefore renamed to the
    names of this read.
    """
    frame, reports, *events = entry
    old = [report.get("source") for report in reports]
    if old == names or len(old) != len(names):
        return entry
    mapping = dict(zip(old, names))
    reports = [_renamed_report(report, mapping) for report in reports]
    return (_rename(frame, mapping), reports, *[_rename(table, mapping) for table in events])


def _renamed_report(report: dict[str, Any], mapping: dict[str, str]) -> dict[str, Any]:
    """Return a file report with its source, and the file name that starts each warning, renamed."""
    warnings = []
    for warning in report.get("warnings") or []:
        for before, after in mapping.items():
            if isinstance(warning, str) and warning.startswith(f"{before}:"):
                warning = after + warning[len(before):]
                break
        warnings.append(warning)
    source = report.get("source")
    renamed = {**report, "source": mapping.get(source, source)}
    if "warnings" in report:
        renamed["warnings"] = warnings
    return renamed


def _rename(frame, mapping: dict[str, str]):
    """Return ``frame`` with ``source`` and the file part of ``session_id`` renamed by ``mapping``."""
    if not len(frame):
        return frame
    frame = frame.copy(deep=False)
    source = frame["source"]
    frame["source"] = source.map(lambda name: mapping.get(name, name), na_action="ignore").astype(source.dtype)
    ids = frame["session_id"]
    renamed_ids = ids.astype(object)
    for before, after in mapping.items():
        prefix = f"{before}:"
        chosen = ids.str.startswith(prefix).fillna(False).to_numpy(dtype=bool)
        renamed_ids[chosen] = after + ":" + ids[chosen].str.slice(len(prefix)).astype(object)
    frame["session_id"] = renamed_ids.astype(ids.dtype)
    return frame

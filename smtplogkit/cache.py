"""A Parquet cache of parsed sessions, one file per input log.

The key covers the input's absolute path, size and modification time, every
option that changes the result (format, labels, timezone, date) and the
smtplogkit version.  A log that grows while an incident is live is therefore
parsed again, and an unchanged one loads from Parquet.
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


def load(folder: str | os.PathLike, key: str):
    """Return the cached sessions frame for ``key`` with its list of file reports, or ``None``."""
    import pandas as pd

    table = Path(folder) / f"{key}.parquet"
    meta = Path(folder) / f"{key}.json"
    if not (table.is_file() and meta.is_file()):
        return None
    try:
        frame = pd.read_parquet(table)
        reports = json.loads(meta.read_text())
    except (OSError, ValueError) as error:
        logger.warning("cache entry %s is unreadable, parsing again: %s", table, error)
        return None
    return frame, reports if isinstance(reports, list) else [reports]  # entries of one file kept a bare report


def store(folder: str | os.PathLike, key: str, frame, reports: list[dict[str, Any]]) -> None:
    """Write one input's sessions frame and file reports to the cache."""
    path = Path(folder)
    path.mkdir(parents=True, exist_ok=True)
    clean = frame.copy()
    clean.attrs = {}
    partial = path / f"{key}.parquet.tmp"
    clean.to_parquet(partial, index=False)
    os.replace(partial, path / f"{key}.parquet")
    (path / f"{key}.json").write_text(json.dumps(reports, default=str))

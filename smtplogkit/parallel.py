"""Reading many inputs at once: a process pool over files, and the cache.

Each input becomes its own sessions frame, from the cache when it is fresh
or else parsed in a worker process.  The frames are joined in input order, so
the result equals a single-process read row for row.
"""

from __future__ import annotations

import logging
import os
from concurrent.futures import ProcessPoolExecutor
from datetime import tzinfo
from typing import Any

from . import cache as parquet_cache
from .inputs import Source

logger = logging.getLogger(__name__)


def read_source_frame(source: Source, options: dict[str, Any]):
    """Parse one input and return its sessions frame and file reports (one per file of a chain of rotations)."""
    from .reader import ReadResult, _read_source, _resolve_tz, sessions_frame

    result = ReadResult()
    tz = _resolve_tz(options.get("tz"))
    _read_source(source, result, format=options.get("format", "auto"), labels=options.get("labels") or {}, tz=tz,
                 day=options.get("date"), keep_events=False)
    frame = sessions_frame(result, tz)
    reports = [report.as_dict() for report in result.files] or [{"source": source.name}]
    return frame, reports


def read_frames(sources: list[Source], options: dict[str, Any], *, workers: int = 1,
                cache_dir: str | os.PathLike | None = None) -> list[tuple[Any, list[dict[str, Any]]]]:
    """Return ``(frame, reports)`` for every source, in source order.

    A :class:`~smtplogkit.inputs.Chain` of rotations is one source, parsed
    in one process and cached as one entry, with a report per file.

    ``workers`` above 1 parses uncached file inputs in that many processes;
    open streams are always read in this process.
    """
    results: list[tuple[Any, list[dict[str, Any]]] | None] = [None] * len(sources)
    keys: list[str | None] = [None] * len(sources)
    todo: list[int] = []
    for index, source in enumerate(sources):
        if cache_dir is not None:
            keys[index] = parquet_cache.cache_key(source, options)
            cached = parquet_cache.load(cache_dir, keys[index]) if keys[index] else None
            if cached is not None:
                logger.info("%s: sessions loaded from the cache", source.name)
                results[index] = cached
                continue
        todo.append(index)

    pooled = [i for i in todo if sources[i].stream is None] if workers > 1 else []
    if len(pooled) > 1:
        with ProcessPoolExecutor(max_workers=min(workers, len(pooled))) as pool:
            futures = {i: pool.submit(read_source_frame, sources[i], options) for i in pooled}
            for index, future in futures.items():
                results[index] = future.result()
    for index in todo:
        if results[index] is None:
            results[index] = read_source_frame(sources[index], options)

    if cache_dir is not None:
        for index in todo:
            if keys[index] is not None:
                frame, reports = results[index]
                parquet_cache.store(cache_dir, keys[index], frame, reports)
    return [r for r in results if r is not None]


def combine(parts: list[tuple[Any, list[dict[str, Any]]]], skipped: list[tuple[str, str]], tz: str | tzinfo | None):
    """Join per-input frames into one sessions frame with the usual attrs."""
    import pandas as pd

    from .reader import _resolve_tz, apply_session_dtypes

    frames = [frame for frame, _ in parts if len(frame)]
    if frames:
        same = all(list(f.dtypes.items()) == list(frames[0].dtypes.items()) for f in frames)
        if not same:
            frames = [f.astype(object) for f in frames]  # label columns differ between files
        frame = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    else:
        frame = pd.DataFrame()
    frame = apply_session_dtypes(frame)
    frame.attrs.update(files=[report for _, reports in parts for report in reports], skipped=list(skipped),
                       tz=str(_resolve_tz(tz)))
    return frame



"""Reading many inputs at once: a process pool over files, and the cache.

Each input becomes its own sessions frame, from the cache when it is fresh
or else parsed in a worker process.  The frames are joined in input order, so
the result equals a single-process read row for row.

A large file in a format whose module sets ``SHARES`` (Postfix) is read in
shares when workers outnumber files: every worker reads the whole file but
builds the sessions of its own share of the smtp processes, and the shares'
frames are merged in the order of their first lines.  Its rows are then
those of a single-process read, which gives them in no fixed order.
"""

from __future__ import annotations

import logging
import os
from concurrent.futures import ProcessPoolExecutor, as_completed
from datetime import tzinfo
from typing import Any

from . import cache as parquet_cache
from .errors import InputError
from .formats import base as formats_base
from .inputs import Chain, Source
from .progress import InputsProgress, progress_default

logger = logging.getLogger(__name__)


# A file at least this large, in a format that can be read in shares, is
# shared out among the workers when there are more workers than files.
SHARE_BYTES = 16 << 20
MAX_SHARES = 10


def read_source_frame(source: Source, options: dict[str, Any], share: tuple[int, int] | None = None,
                      keep_events: bool | str = False, progress: bool | None = False):
    """Parse one input, or share k of n of it, and return its sessions frame and file reports.

    A chain of rotations has one report per file.  With ``keep_events``, the
    events frame comes third.  ``progress`` draws the bar over the input's
    lines, for an input read in this process.
    """
    from .reader import ReadResult, _read_source, _resolve_tz, events_frame, sessions_frame

    result = ReadResult()
    tz = _resolve_tz(options.get("tz"))
    _read_source(source, result, format=options.get("format", "auto"), labels=options.get("labels") or {}, tz=tz,
                 day=options.get("date"), keep_events=keep_events, share=share, progress=progress)
    frame = sessions_frame(result, tz)
    reports = [report.as_dict() for report in result.files] or [{"source": source.name}]
    if keep_events:
        events = events_frame(result)
        events.attrs = {}
        return frame, reports, events
    return frame, reports


def share_count(source: Source, options: dict[str, Any], workers: int) -> int:
    """Return how many processes should read ``source``: ``workers`` for a large file in a format read in shares, else 1."""
    if workers < 2 or source.stream is not None:
        return 1
    paths = [part.path for part in source.parts] if isinstance(source, Chain) else [source.path]
    try:
        size = sum(path.stat().st_size for path in paths if path is not None)
    except OSError:
        return 1
    if size < SHARE_BYTES:
        return 1
    from .reader import source_format

    module = source_format(source, options.get("format", "auto"), options.get("tz"))
    # Shares go by the last digit of a process id (formats.postfix._share_of), so more than ten would idle.
    return min(workers, MAX_SHARES) if getattr(module, "SHARES", False) else 1


def merge_shares(parts: list[tuple[Any, list[dict[str, Any]]]]) -> tuple[Any, list[dict[str, Any]]]:
    """Return the frame and report of a whole file from those of its shares, in share order.

    The rows are put in the order of their first line, file by file for a
    chain of rotations.  A single process gives the same rows in another
    order, so the two reads are equal once sorted by source and line.
    """
    from .reader import FileReport, apply_session_dtypes, log_file_counts, merge_share_reports

    import numpy as np

    frame = _concat([frame for frame, _ in parts])
    if frame.empty:
        frame = parts[0][0]
    reports = [share_reports for _, share_reports in parts]
    parts.clear()  # the shares' frames are in ``frame`` now
    # The files of a chain in reading order, then the line in each file.
    ranks = {report["source"]: rank for rank, report in enumerate(reports[0])}
    rank = frame["source"].astype(object).map(ranks).fillna(len(ranks)).to_numpy(dtype="int64")
    line = frame["line"].to_numpy(dtype="float64", na_value=float("inf"))
    order = np.lexsort((line, rank))  # stable: sessions that start on one line keep their order
    frame = apply_session_dtypes(frame.take(order).reset_index(drop=True))
    # One report per file: a chain of rotations has several, in the same order in every share.
    merged = []
    for index in range(len(reports[0])):
        report = merge_share_reports([FileReport(**share_reports[index]) for share_reports in reports])
        log_file_counts(report)
        merged.append(report.as_dict())
    return frame, merged


def read_frames(sources: list[Source], options: dict[str, Any], *, workers: int = 1,
                cache_dir: str | os.PathLike | None = None, keep_events: bool | str = False,
                progress: bool | None = False) -> list[tuple]:
    """Return ``(frame, reports)`` for every source, in source order.

    A :class:`~smtplogkit.inputs.Chain` of rotations is one source, parsed
    in one process and cached as one entry, with a report per file.

    ``workers`` above 1 parses uncached file inputs in that many processes;
    open streams are always read in this process.  With ``keep_events``
    (True or ``"failed"``, as for :func:`smtplogkit.reader.read`), each
    tuple has the source's events frame third, and no file is read in
    shares.  ``progress`` (None: when stderr is a terminal or in Jupyter)
    draws a bar over the sources in this process, moved on as each one's
    sessions arrive from a worker or load from the cache, and a bar over
    the lines of each source read in this process.
    """
    if cache_dir is not None:
        cache_dir = os.path.expanduser(os.fspath(cache_dir))
        if os.path.exists(cache_dir) and not os.path.isdir(cache_dir):
            raise InputError(cache_dir, "the cache must be a folder, and this is a file")
    if progress is None:
        progress = progress_default()
    with InputsProgress(len(sources), "reading logs", progress) as bar:
        results = _read_all(sources, options, workers, cache_dir, keep_events, progress, bar)
    return [r for r in results if r is not None]


def _read_all(sources: list[Source], options: dict[str, Any], workers: int, cache_dir: str | None,
              keep_events: bool | str, progress: bool, bar: InputsProgress) -> list[tuple | None]:
    """Read ``sources`` for :func:`read_frames`, counting each one on ``bar`` as its result comes in."""
    results: list[tuple | None] = [None] * len(sources)
    keys: list[str | None] = [None] * len(sources)
    todo: list[int] = []
    for index, source in enumerate(sources):
        if cache_dir is not None:
            keys[index] = parquet_cache.cache_key(source, _key_options(options))
            cached = parquet_cache.load(cache_dir, keys[index], events=keep_events) if keys[index] else None
            if cached is not None:
                logger.info("%s: sessions%s loaded from the cache", source.name, " and events" if keep_events else "")
                results[index] = parquet_cache.renamed(cached, _part_names(source))
                # The read that filled the cache logged these warnings; a read from it logs them again.
                for report in results[index][1]:
                    for warning in report.get("warnings", ()):
                        logger.warning("%s", warning)
                bar.done()
                continue
        todo.append(index)

    pooled = [i for i in todo if sources[i].stream is None] if workers > 1 else []
    # (input, share, shares) to read; large files get a share per worker when workers outnumber the files.
    tasks: list[tuple[int, int, int]] = []
    for index in pooled:
        count = share_count(sources[index], options, workers) if workers > len(pooled) and not keep_events else 1
        tasks.extend((index, share, count) for share in range(count))
    if len(tasks) > 1:
        # Every task runs in the pool, shares of one file too, so this process holds only the
        # frames and no parser's state.  That keeps the peak memory of a large maillog read in
        # shares near that of one process reading it.
        shares: dict[int, list] = {}
        formats_base.check_builds()
        # pandas and pyarrow load here, once, before the workers fork: each worker would load them
        # for its frames, and this process again to take the frames back (about 0.4 s each).
        import pandas  # noqa: F401
        import pyarrow  # noqa: F401
        # NOTE: a worker's log records (the per-file INFO line, warnings) reach the caller's handlers
        # only because Linux forks the workers.  Under "spawn" or "forkserver" they are lost.
        with ProcessPoolExecutor(max_workers=min(workers, len(tasks))) as pool:
            futures = {pool.submit(read_source_frame, sources[i], options, (k, n) if n > 1 else None,
                                   keep_events): (i, k, n) for i, k, n in tasks}
            for future in as_completed(futures):
                index, share, count = futures[future]
                parts = shares.setdefault(index, [None] * count)
                parts[share] = future.result()
                if all(part is not None for part in parts):
                    bar.done()  # the last share of this input is in
        for index in list(shares):
            parts = shares.pop(index)
            results[index] = merge_shares(parts) if len(parts) > 1 else parts[0]
    for index in todo:
        if results[index] is None:
            results[index] = read_source_frame(sources[index], options, keep_events=keep_events, progress=progress)
            bar.done()

    if cache_dir is not None:
        stored = [index for index in todo if keys[index] is not None]
        failures = []
        for index in stored:
            error = parquet_cache.store(cache_dir, keys[index], *results[index], keep_events=keep_events or True)
            if error is not None:
                failures.append((sources[index].name, error))
        parquet_cache.warn_not_written(cache_dir, failures, len(stored))
    return results


def _key_options(options: dict[str, Any]) -> dict[str, Any]:
    """Return the read options as the cache key covers them: a missing time zone is UTC, as the reader reads it."""
    from .reader import _resolve_tz

    return {**options, "tz": str(_resolve_tz(options.get("tz")))}


def _part_names(source: Source) -> list[str]:
    """Return the names a read of ``source`` gives its files now, one per file of a chain."""
    return [part.name for part in source.parts] if isinstance(source, Chain) else [source.name]


def _concat(frames: list[Any]):
    """Join session frames, which may differ in their label columns, into one (before the session dtypes)."""
    import pandas as pd

    frames = [frame for frame in frames if len(frame)]
    if not frames:
        return pd.DataFrame()
    same = all(list(f.dtypes.items()) == list(frames[0].dtypes.items()) for f in frames)
    if not same:
        frames = [f.astype(object) for f in frames]  # label columns differ between files
    return pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]


def combine(parts: list[tuple[Any, list[dict[str, Any]]]], skipped: list[tuple[str, str]], tz: str | tzinfo | None):
    """Join per-input frames into one sessions frame with the usual attrs."""
    from .reader import _resolve_tz, apply_session_dtypes

    frame = apply_session_dtypes(_concat([frame for frame, _ in parts]))
    frame.attrs.update(files=[report for _, reports in parts for report in reports], skipped=list(skipped),
                       tz=str(_resolve_tz(tz)))
    return frame



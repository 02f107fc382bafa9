"""Sessions as a Dask DataFrame, for fleets of logs past one machine.

``read_logs`` here takes the same arguments as :func:`smtplogkit.read_logs`
and returns a Dask DataFrame with one partition per input file (or chain
of rotations of one log, read as one stream) and exactly
the pandas reader's columns and dtypes, so the analysis functions accept it
after filtering and ``.compute()``.  Paths with a protocol (``s3://``,
``gcs://``, ``memory://``) are opened through fsspec.

With ``shares=N``, a large log in a format that can be read in shares
(Postfix, as with ``workers`` in the pandas reader) becomes N partitions,
so a relay's maillog of several gigabytes is not parsed by one worker
alone.  Each such partition reads the whole file and builds the sessions
of its own share of the smtp processes.

Requires the ``dask`` extra: ``pip install 'smtplogkit[dask]'``.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import date, tzinfo
from typing import Any

from .errors import OptionError
from .inputs import Chain, Source, expand, group_rotations, log_skipped

PROTOCOL_RE = re.compile(r"^[a-z][a-z0-9+.-]*://", re.IGNORECASE)


def _remote_sources(patterns: list[str]) -> list[Source]:
    """Expand remote globs with fsspec; each file becomes a source named by its URL."""
    import fsspec

    sources = []
    for pattern in patterns:
        for opened in fsspec.open_files(pattern, mode="rb"):
            sources.append(Source(opened.fs.unstrip_protocol(opened.path)))
    return sources


def _is_remote(source: Source) -> bool:
    return source.path is None and source.stream is None and PROTOCOL_RE.match(source.name) is not None


@contextmanager
def _remote_text(source: Source) -> Iterator[Source]:
    """Open a remote file through fsspec and give it as a source that reads its decoded text."""
    import fsspec

    with fsspec.open(source.name, mode="rb", compression="infer") as handle:
        text = io.TextIOWrapper(handle, encoding="utf-8", errors="replace", newline=None)
        yield Source(source.name, stream=text, labels=source.labels)


def _partition(part: tuple[Source, tuple[int, int] | None], options: dict[str, Any]):
    """Read one partition: a whole input, or share k of n of a large one."""
    from .parallel import read_source_frame

    source, share = part
    columns = options.get("columns")
    if isinstance(source, Chain):
        # A read keeps its state on the chain, and the threaded scheduler reads the shares at once.
        source = replace(source, reading=None, opened=None)
    if _is_remote(source):
        with _remote_text(source) as opened:
            frame, _ = read_source_frame(opened, options, share)
    else:
        frame, _ = read_source_frame(source, options, share)
    frame.attrs = {}
    if columns is not None and list(frame.columns) != columns:
        # Every partition has the meta's columns, in its order: a client log has no queue ids.
        from .reader import apply_session_dtypes

        frame = apply_session_dtypes(frame.reindex(columns=columns))
    return frame


def _format_of(source: Source, options: dict[str, Any]):
    """Return the format module ``source`` would be read with, from its first lines, or None."""
    from .reader import source_format

    if not _is_remote(source):
        return source_format(source, options.get("format", "auto"), options.get("tz"))
    with _remote_text(source) as opened:
        return source_format(opened, options.get("format", "auto"), options.get("tz"))


def _share_count(source: Source, options: dict[str, Any], shares: int) -> int:
    """Return how many partitions ``source`` becomes: ``shares`` (at most ten) for a large file read in shares, else 1."""
    from . import parallel
    from .reader import source_format

    if shares < 2:
        return 1
    if not _is_remote(source):
        return parallel.share_count(source, options, shares)
    from fsspec.core import url_to_fs

    filesystem, path = url_to_fs(source.name)
    if filesystem.size(path) < parallel.SHARE_BYTES:
        return 1
    with _remote_text(source) as opened:
        module = source_format(opened, options.get("format", "auto"), options.get("tz"))
    return min(shares, parallel.MAX_SHARES) if getattr(module, "SHARES", False) else 1


def read_logs(paths: Any, *, format: str = "auto", labels: dict[str, Any] | None = None,
              tz: str | tzinfo | None = None, date: date | str | None = None, shares: int = 1):
    """Return a Dask DataFrame of sessions, one partition per input file or chain of rotations.

    Takes the arguments of :func:`smtplogkit.read_logs` except ``workers``
    and ``cache``: Dask's scheduler decides where partitions are parsed.
    ``shares`` above 1 makes each large file in a format read in shares
    (16 MiB or more, Postfix) that many partitions, ten at most.  A
    file's shares come one after the other, each with its rows in the
    order of their first lines; sort by ``source`` and ``line`` for the
    order of the pandas reader.
    """
    import dask.dataframe as dd

    from .reader import SESSION_COLUMNS, apply_session_dtypes, as_date

    items = [paths] if isinstance(paths, str) else [str(p) for p in paths]
    remote = [p for p in items if PROTOCOL_RE.match(p) and not p.startswith("file://")]
    local = [p.removeprefix("file://") for p in items if p not in remote]
    sources = []
    if local:
        expansion = expand(local)
        log_skipped(expansion.skipped)
        sources = group_rotations(expansion.sources)
    if remote:
        sources += _remote_sources(remote)

    options = {"format": format, "labels": labels or {}, "tz": tz, "date": as_date(date)}
    label_names = sorted({*(labels or {}), *(name for s in sources for name in s.labels)})
    import pandas as pd

    # The pandas reader adds a queue_id column when a row has one, and only an MTA log's rows
    # have one.  A Dask frame's columns are fixed before any file is read, so they include it
    # when the first lines of an input read as an MTA log.
    queue_ids = ["queue_id"] if any(getattr(_format_of(source, options), "QUEUE_IDS", False) for source in sources) else []
    meta = apply_session_dtypes(pd.DataFrame(columns=SESSION_COLUMNS + label_names + queue_ids))
    options["columns"] = list(meta.columns)
    if not sources:
        return dd.from_pandas(meta, npartitions=1)
    if shares < 1:
        raise OptionError(f"shares must be 1 or more, not {shares}")
    parts: list[tuple[Source, tuple[int, int] | None]] = []
    for source in sources:
        count = _share_count(source, options, shares)
        parts.extend((source, (k, count) if count > 1 else None) for k in range(count))
    return dd.from_map(_partition, parts, options=options, meta=meta, enforce_metadata=False,
                       label="smtplogkit-sessions")

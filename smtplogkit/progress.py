"""Optional tqdm progress bars: over the lines of one input, and over the inputs of a pooled or cached read.

A bar is on by default when stderr is a terminal or the code runs in a
Jupyter kernel (``tqdm.auto`` then draws a notebook widget), and off
otherwise, so logs and pipes stay clean.  It is drawn once a read has taken
a second, and once more with the final count when the read ends.

A read through worker processes or the cache (:func:`smtplogkit.parallel.read_frames`)
draws one bar in the calling process over its inputs, moved on as each
input's sessions arrive from a worker or load from the cache; the workers
draw none, so their bars cannot overwrite each other.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from typing import Any


def progress_default() -> bool:
    """Return whether a progress bar is wanted when the caller did not say."""
    if "ipykernel" in sys.modules:
        return True
    stream = sys.stderr
    return bool(stream is not None and hasattr(stream, "isatty") and stream.isatty())


def with_progress(lines: Iterable[str], name: str, enabled: bool | None) -> Iterator[str] | Iterable[str]:
    """Return ``lines``, wrapped in a tqdm bar labelled ``name`` when enabled."""
    if enabled is None:
        enabled = progress_default()
    if not enabled:
        return lines
    from tqdm.auto import tqdm

    return tqdm(lines, desc=name, unit=" lines", unit_scale=True, delay=1.0, leave=False, mininterval=0.5)


def with_block_progress(blocks: Iterable[list[str]], name: str, enabled: bool | None) -> Iterator[list[str]] | Iterable[list[str]]:
    """Return ``blocks`` (lists of lines), counting their lines on a tqdm bar labelled ``name`` when enabled."""
    if enabled is None:
        enabled = progress_default()
    if not enabled:
        return blocks
    return _counted_blocks(blocks, name)


def _counted_blocks(blocks: Iterable[list[str]], name: str) -> Iterator[list[str]]:
    from tqdm.auto import tqdm

    with tqdm(desc=name, unit=" lines", unit_scale=True, delay=1.0, leave=False, mininterval=0.5) as bar:
        for block in blocks:
            yield block
            bar.update(len(block))
        bar.refresh()  # show the last count, which the update interval may have held back


class InputsProgress:
    """A tqdm bar over the inputs of one read, or nothing when progress is off.

    Use it as a context manager and call :meth:`done` once per input whose
    sessions are in (parsed, or loaded from the cache).
    """

    def __init__(self, total: int, name: str, enabled: bool | None) -> None:
        if enabled is None:
            enabled = progress_default()
        self._bar: Any = None
        if enabled and total:
            from tqdm.auto import tqdm

            self._bar = tqdm(total=total, desc=name, unit=" files", delay=1.0, leave=False, mininterval=0.5)

    def done(self, count: int = 1) -> None:
        """Count ``count`` more inputs as read."""
        if self._bar is not None:
            self._bar.update(count)

    def __enter__(self) -> InputsProgress:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._bar is not None:
            if exc_info[0] is None:
                self._bar.refresh()  # show the last count, which the update interval may have held back
            self._bar.close()

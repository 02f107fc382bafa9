"""An optional tqdm progress bar over the lines of one input.

The bar is on by default when stderr is a terminal or the code runs in a
Jupyter kernel (``tqdm.auto`` then draws a notebook widget), and off
otherwise, so logs and pipes stay clean.  It appears only for inputs that
take longer than a second to read.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator


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

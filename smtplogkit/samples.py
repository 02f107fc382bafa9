"""Where the bundled sample data lives."""

from __future__ import annotations

from pathlib import Path


def sample_data_path() -> Path:
    """Return the folder of bundled sample logs.

    In a source checkout this is ``sample_data/`` at the repository root; an
    installed wheel carries a copy inside the package.
    """
    here = Path(__file__).resolve().parent
    for candidate in (here.parent / "sample_data", here / "sample_data"):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError("the bundled sample_data folder is missing from this installation")

"""The location of the bundled sample data, and ``python -m smtplogkit.samples``.

Running this module writes a fresh copy of the sample logs; the generator
itself is :mod:`smtplogkit.sampledata`.
"""

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


if __name__ == "__main__":
    import sys

    from .sampledata import main

    sys.exit(main())

"""The location of the bundled sample data, and ``python -m smtplogkit.samples``.

Running this module writes a fresh copy of the sample logs; the generator
itself is :mod:`smtplogkit.sampledata`.
"""

from __future__ import annotations

from pathlib import Path

from .errors import InputError


def sample_data_path() -> Path:
    """Return the folder of bundled sample logs.

    In a source checkout and an editable install this is ``sample_data/`` at
    the repository root.  A wheel does not include it, so there this raises
    :class:`~smtplogkit.errors.InputError`, which says how to write the samples.
    """
    here = Path(__file__).resolve().parent
    for candidate in (here.parent / "sample_data", here / "sample_data"):
        if candidate.is_dir():
            return candidate
    raise InputError("sample_data", "the sample logs are missing, because only a source checkout has them, "
                     "not an install from a wheel. Give the path of your logs, or write the samples with "
                     "'python -m smtplogkit.samples --out sample_data' and give that folder")


if __name__ == "__main__":
    import sys

    from .sampledata import main

    sys.exit(main())

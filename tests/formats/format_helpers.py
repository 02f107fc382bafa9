"""Helpers for the per-format tests: read a small excerpt the way users do.

Test modules import the ``excerpt`` fixture from here; a conftest.py in this
folder would shadow tests/conftest.py, which other tests import by name.
"""

from __future__ import annotations

import functools
import textwrap
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

import smtplogkit


class Excerpt:
    """Write a log excerpt to a file and read it with smtplogkit."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.count = 0

    def path(self, text: str, name: str | None = None) -> Path:
        self.count += 1
        path = self.folder / (name or f"excerpt-{self.count}.log")
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        return path

    def sessions(self, text: str, name: str | None = None, **options):
        return smtplogkit.read_logs(self.path(text, name), **options)

    def events(self, text: str, name: str | None = None, **options):
        return smtplogkit.read_events(self.path(text, name), **options)


@pytest.fixture
def excerpt(tmp_path: Path) -> Excerpt:
    return Excerpt(tmp_path)


def counts(frame) -> tuple[int, int, int]:
    """Return (parsed, noise, unrecognised) lines of the only file read."""
    (report,) = frame.attrs["files"]
    return report["parsed"], report["noise"], report["unrecognised"]


def row(frame, index: int = 0) -> dict:
    """Return one session row as a dict with plain Python values (None for missing)."""
    values = frame.iloc[index].to_dict()
    return {key: (None if _missing(value) else value) for key, value in values.items()}


def _missing(value) -> bool:
    try:
        import pandas as pd

        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def read_both_dates(paths: list[Path], name: str, monkeypatch, **parse_options) -> list:
    """Return the sessions of ``paths`` read as format ``name``, without and with a date.

    ``parse_options`` go to the format's ``parse`` (``quick=False``, ``templates=False``).
    """
    from smtplogkit import formats

    module = formats.get(name)
    frames = []
    with monkeypatch.context() as patch:
        if parse_options:
            patch.setattr(module, "parse", functools.partial(module.parse, **parse_options))
        for options in ({}, {"date": date(2026, 3, 2)}):
            frames.append(smtplogkit.read_logs(paths, format=name, **options))
    return frames


def restamp(lines: list[str], start: datetime, step: timedelta) -> list[str]:
    """Return smtplib lines with their times of day replaced by times that advance by ``step`` from ``start``."""
    out = []
    moment = start
    for text in lines:
        if text[2:3] == ":" and text[15:16] == " ":
            text = moment.strftime("%H:%M:%S.%f") + text[15:]
            moment += step
        out.append(text)
    return out

"""Client logs cut at an arbitrary byte, as when a log is copied while it is being written.

The last line then has no line end.  When the parser does not read it (it
counts it as noise or unrecognised), the file's report warns with the file
and line.  Either way the counts add up, and the prefilters and row
templates give the frame and report of the general path.
"""

from __future__ import annotations

import functools
import random
from pathlib import Path

import pandas as pd
import pytest

import smtplogkit
from smtplogkit.formats import nodemailer, smtplib

from .test_masked_keys import _fixtures, _nodemailer_log, _smtplib_log

CUT_WARNING = "the file's last line has no line end and was not read"


def _cuts(text: str, seed: int) -> list[int]:
    """Return byte offsets to cut ``text`` at: inside lines near the end, and just before the last line end."""
    rng = random.Random(seed)
    ends = [index for index, char in enumerate(text) if char == "\n"]
    inside = [ends[-index] + 1 + rng.randint(1, 60) for index in rng.sample(range(2, 400), 8)]
    return [*inside, len(text) - 1]


def _read(path: Path, name: str) -> tuple[pd.DataFrame, dict]:
    frame = smtplogkit.read_logs(path, format=name, progress=False)
    (report,) = frame.attrs["files"]
    return frame, report


def _cut_warnings(report: dict) -> list[str]:
    return [warning for warning in report["warnings"] if CUT_WARNING in warning]


@pytest.mark.parametrize("name, make, module", [("smtplib", _smtplib_log, smtplib),
                                                ("nodemailer", _nodemailer_log, nodemailer)])
def test_cut_at_any_byte(tmp_path, monkeypatch, name, make, module):
    text = make(3, _fixtures(name))
    if name == "nodemailer":
        text += "[2026-03-02 08:00:00] DEBUG [c1499x] S: 221 Bye\n"  # a last line read when only its end is lost
    checked = {"warned": 0, "read": 0}
    for offset in _cuts(text, 3):
        cut = text[:offset]
        if cut.endswith("\n") or not cut[cut.rfind("\n") + 1:].strip():
            continue
        body = tmp_path / "body-2026-03-02.log"
        body.write_text(cut[:cut.rfind("\n") + 1])
        path = tmp_path / "cut-2026-03-02.log"
        path.write_text(cut)
        frame, report = _read(path, name)
        _, before = _read(body, name)

        assert report["lines"] == before["lines"] + 1
        assert report["parsed"] + report["noise"] + report["unrecognised"] == report["lines"]
        warnings = _cut_warnings(report)
        if report["parsed"] == before["parsed"] + 1:
            assert warnings == []  # the line was read
            checked["read"] += 1
        else:
            (warning,) = warnings
            assert warning.startswith(f"{path}:{report['lines']}: ")
            # One warning about the line: not an "unrecognised line" warning as well.
            assert [w for w in report["warnings"] if w.startswith(f"{path}:{report['lines']}: ")] == [warning]
            counted_as = "noise" if report["noise"] == before["noise"] + 1 else "unrecognised"
            assert report[counted_as] == before[counted_as] + 1
            assert f"(counted as {counted_as})" in warning
            checked["warned"] += 1

        # Without the prefilter, raw lines, quick paths and row templates: the same frame and report.
        with monkeypatch.context() as patch:
            for attribute in ("prefilter", "prefilter_state"):
                if hasattr(module, attribute):
                    patch.delattr(module, attribute)
            patch.setattr(module, "RAW_LINES", False)
            patch.setattr(module, "parse", functools.partial(module.parse, quick=False, templates=False))
            general, general_report = _read(path, name)
        pd.testing.assert_frame_equal(frame, general, check_exact=True)
        assert general_report == report
    assert checked["warned"] > 0
    assert checked["read"] > 0

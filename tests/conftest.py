"""Shared test set-up: the capture tools on ``sys.path`` and a fleet of real smtplib logs.

The loopback SMTP server catalogue and the capture runner live in
tools/capture, outside the installed package, and import each other by plain
module name, so that folder goes on ``sys.path``.  ``tests/fleet.py`` writes
logs from real smtplib clients against a local aiosmtpd server.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CAPTURE_TOOLS = ROOT / "tools" / "capture"
for folder in (CAPTURE_TOOLS, Path(__file__).parent):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

import fleet  # noqa: E402


@pytest.fixture(scope="session")
def fleet_logs(tmp_path_factory) -> Path:
    """A folder laid out as ``{network}/{worker}/YYYY-MM-DD.log`` (see tests/fleet.py)."""
    return fleet.write_fleet_logs(tmp_path_factory.mktemp("fleet"))


@pytest.fixture(scope="session")
def fleet_loaded(fleet_logs):
    """Sessions and events read from :func:`fleet_logs` with the default label template."""
    from smtplogkit.report import load_logs

    return load_logs(fleet_logs)


@pytest.fixture(autouse=True)
def sessions_end_in_order(monkeypatch):
    """Check, in every test, the promise of formats with ``SESSIONS_IN_ORDER`` (see ``formats.base.parse_items``).

    Once a session has ended, no event of it may come, and none of its
    events may change afterwards: the reader built its row when it ended.
    """
    from session_checks import checked_end_in_order
    from smtplogkit.formats import base

    monkeypatch.setattr(base, "_end_in_order", checked_end_in_order(base._end_in_order))


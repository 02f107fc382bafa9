"""Shared fixtures: logs written by real smtplib clients against a local aiosmtpd server."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

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

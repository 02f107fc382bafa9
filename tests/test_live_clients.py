"""The installed client programs, run now against the loopback servers.

The fixtures in tests/captures freeze what one version of each client
printed.  These runs catch a newer version that prints something the
readers do not know.  Servers use free ports here, so no root is needed.
A client that is not installed is skipped.
"""

from __future__ import annotations

import functools
import shutil
import subprocess

import pandas as pd
import pytest

import smtplogkit
import capture  # from tools/capture, which tests/conftest.py puts on sys.path

SCENARIOS = ("success", "connect_refused", "plain_port_implicit_client", "untrusted_cert", "auth_535",
             "unknown_recipient")
RUNS = [run for run in capture.RUNS if run.scenario in SCENARIOS and run.mode != "debug2"]


@pytest.mark.parametrize("run", RUNS, ids=[f"{r.client}/{r.file_name}" for r in RUNS])
def test_live_client(run, tmp_path):
    if run.client != "smtplib" and shutil.which(run.client) is None:
        pytest.skip(f"{run.client} is not installed")
    if run.client == "swaks" and not _swaks_has_tls():
        pytest.skip("swaks cannot speak TLS here: it needs Perl's Net::SSLeay (Debian: libnet-ssleay-perl)")
    entry = capture.capture(run, tmp_path, well_known=False)
    sessions = smtplogkit.read_logs(tmp_path / run.client / run.file_name)
    report = sessions.attrs["files"][0]
    failed = sessions[sessions["cause"] != "ok"]
    row = failed.iloc[0] if len(failed) else sessions.iloc[0]

    assert report["format"] == run.client
    assert report["unrecognised"] == 0, report["warnings"]
    assert len(sessions) == entry["sessions"]
    assert row["failure_stage"] == entry["failure_stage"]
    assert row["cause"] == entry["cause"]
    assert (None if pd.isna(row["reply_code"]) else int(row["reply_code"])) == entry["reply_code"]


@functools.lru_cache(maxsize=1)
def _swaks_has_tls() -> bool:
    """Return whether the installed swaks can speak TLS; without Net::SSLeay it exits at once."""
    support = subprocess.run(["swaks", "--support"], capture_output=True, text=True, timeout=30)
    return "TLS not available" not in support.stdout + support.stderr

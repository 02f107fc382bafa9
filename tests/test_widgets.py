"""Notebook widgets driven by setting .value, with no kernel running."""

from __future__ import annotations

import pandas as pd
import pytest

pytest.importorskip("ipywidgets", reason="ipywidgets is in the notebooks extra")

import fleet  # noqa: E402

from smtplogkit.analysis import failed_mask  # noqa: E402
from smtplogkit.widgets import FilterPanel, SessionBrowser  # noqa: E402


@pytest.fixture
def panel(fleet_loaded):
    return FilterPanel(fleet_loaded.sessions)


@pytest.fixture
def browser(fleet_loaded):
    return SessionBrowser(fleet_loaded.sessions, fleet_loaded.events)


def test_panel_starts_failed_only(panel, fleet_loaded):
    assert len(panel.selected) == failed_mask(fleet_loaded.sessions).sum()
    assert f"<b>{len(panel.selected)}</b> sessions selected" in panel.counts.value


def test_panel_network_filter(panel, fleet_loaded):
    before = panel.timeline.value
    panel.network.value = ("office",)
    sessions = fleet_loaded.sessions
    expected = sessions[(sessions["network"] == "office") & failed_mask(sessions)]
    assert list(panel.selected["session_id"]) == list(expected["session_id"])
    assert "datacenter" not in panel.table.value
    assert panel.timeline.value != before


def test_panel_cause_and_stage(panel):
    panel.failed_only.value = False
    panel.cause.value = ("ok",)
    assert len(panel.selected) > 0
    assert set(panel.selected["cause"].astype("string")) == {"ok"}
    panel.cause.value = ()
    panel.stage.value = ("mail_from",)
    assert set(panel.selected["failure_stage"].astype("string")) == {"mail_from"}


def test_panel_identity_filter(panel):
    panel.identity.value = ("gamma@example.org",)
    assert set(panel.selected["identity"].astype("string")) == {"gamma@example.org"}


def test_panel_time_range(panel):
    options = panel.time_range.options
    assert len(options) >= 2
    panel.failed_only.value = False
    everything = len(panel.selected)
    first = options[0][1]
    panel.time_range.value = (first, first)
    assert len(panel.selected) < everything or everything == 0
    assert (panel.selected["start"].dt.tz_convert(panel.tz) <= first).all()


def test_panel_keeps_undated_sessions(fleet_loaded):
    # A log that prints no date gives sessions without a time; the full time range must not hide them.
    sessions = fleet_loaded.sessions.copy()
    undated = sessions.index[:5]
    sessions.loc[undated, "start"] = pd.NaT
    panel = FilterPanel(sessions)
    panel.failed_only.value = False
    assert set(undated) <= set(panel.selected.index)
    first = panel.time_range.options[0][1]
    panel.time_range.value = (first, first)
    assert not set(undated) & set(panel.selected.index)


def test_browser_shows_transcript(browser, fleet_loaded):
    sessions = fleet_loaded.sessions
    rejected = sessions[sessions["cause"].astype("string") == "recipient_rejected"].iloc[0]
    browser.session.value = rejected["session_id"]
    assert f"{rejected['source']}:{rejected['line']}" in browser.transcript.value
    assert "&lt;nobody@example.net&gt;" in browser.transcript.value
    assert "recipient_rejected" in browser.details.value


def test_browser_redacts(browser, fleet_loaded):
    for session_id in fleet_loaded.sessions["session_id"]:
        browser.session.value = session_id
        for secret in fleet.SECRETS:
            assert secret not in browser.transcript.value


def test_panel_updates_browser(panel, browser):
    panel.link(browser)
    panel.network.value = ("datacenter",)
    offered = {value for _, value in browser.session.options}
    assert offered == set(panel.selected["session_id"])
    panel.failed_only.value = True
    panel.cause.value = ("recipient_rejected",)
    assert browser.session.options == ()
    assert "No session matches" in browser.details.value


@pytest.fixture(scope="module")
def failed_only(fleet_logs):
    from smtplogkit.report import load_logs

    return load_logs(fleet_logs, events="failed")


def test_browser_reads_dropped_transcript(browser, failed_only):
    lean = SessionBrowser(failed_only.sessions, failed_only.events)
    sessions = failed_only.sessions
    ok = sessions[sessions["cause"].astype("string") == "ok"]["session_id"]
    assert not failed_only.events["session_id"].isin(ok).any()
    for session_id in list(ok)[:20]:
        browser.session.value = session_id
        lean.session.value = session_id
        assert 'class="server"' in lean.transcript.value
        assert lean.transcript.value == browser.transcript.value


def test_browser_redacts_read_again(failed_only):
    lean = SessionBrowser(failed_only.sessions, failed_only.events)
    for session_id in failed_only.sessions["session_id"]:
        lean.session.value = session_id
        for secret in fleet.SECRETS:
            assert secret not in lean.transcript.value


def test_browser_file_gone(fleet_logs, tmp_path):
    import shutil
    from pathlib import Path

    from smtplogkit.report import load_logs

    folder = tmp_path / "logs"
    shutil.copytree(fleet_logs, folder)
    loaded = load_logs(folder, events="failed")
    sessions = loaded.sessions
    ok = sessions[sessions["cause"].astype("string") == "ok"].iloc[0]
    Path(ok["source"]).unlink()
    lean = SessionBrowser(sessions, loaded.events)
    lean.session.value = ok["session_id"]
    assert "not read again" in lean.transcript.value

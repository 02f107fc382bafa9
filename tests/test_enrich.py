"""Enrichment columns: network fallback, label tables, bursts, idle gaps, token age, local time."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd
import pytest

from scenarios import MONDAY, Scenario
from smtplogkit.enrichment import (add_burst_rate, add_idle_gap, add_local_time, add_network, add_token_age, enrich,
                               map_labels, token_refreshes)
from smtplogkit.reader import ReadResult, events_frame


def _burst_scenario() -> pd.DataFrame:
    scenario = Scenario(0)
    for second in (0, 10, 20, 30, 65, 700):
        scenario.add(MONDAY + timedelta(seconds=second), network="n1", identity="a@x.example", host="h", port=587)
    scenario.add(MONDAY + timedelta(seconds=15), network="n1", identity="b@x.example", host="h", port=587,
                 duration=100)
    return scenario.frame()


def test_burst_counts_per_identity():
    frame = add_burst_rate(_burst_scenario())
    own = frame[frame["identity"] == "a@x.example"].sort_values("start")
    assert own["burst_identity_1m"].tolist() == [1, 2, 3, 4, 4, 1]  # 65 s counts 10, 20, 30 and itself
    assert own["burst_identity_10m"].tolist() == [1, 2, 3, 4, 5, 1]


def test_burst_counts_per_network():
    frame = add_burst_rate(_burst_scenario()).sort_values("start")
    assert frame["burst_network_1m"].tolist() == [1, 2, 3, 4, 5, 5, 1]


def test_parallel_sessions():
    frame = add_burst_rate(_burst_scenario()).sort_values("start")
    # b@ is open from 15 s to 115 s, so attempts at 20, 30 and 65 s overlap it; a@'s own last 1.5 s.
    assert frame["parallel_sessions"].tolist() == [1, 1, 1, 2, 2, 2, 1]


def test_idle_gap_from_previous_end():
    frame = add_idle_gap(_burst_scenario())
    own = frame[frame["identity"] == "a@x.example"].sort_values("start")
    gaps = own["idle_gap_s"].tolist()
    assert np.isnan(gaps[0])
    assert gaps[1:] == pytest.approx([8.5, 8.5, 8.5, 33.5, 633.5])


def test_network_falls_back_to_log_host():
    frame = _burst_scenario().drop(columns=["network"])
    frame.loc[0, "log_host"] = pd.NA
    filled = add_network(frame)
    assert filled.loc[1, "network"] == "n1-host"
    assert pd.isna(filled.loc[0, "network"])  # the source file does not name a network


def test_label_table_fills_missing():
    frame = _burst_scenario().drop(columns=["network"])
    table = pd.DataFrame({"log_host": ["n1-host"], "network": ["office"], "environment": ["prod"]})
    mapped = map_labels(frame, table, on="log_host")
    assert set(mapped["network"]) == {"office"}
    assert set(mapped["environment"]) == {"prod"}


def test_label_mapping_keeps_existing():
    mapped = map_labels(_burst_scenario(), {"n1-host": {"network": "other"}}, on="log_host")
    assert set(mapped["network"]) == {"n1"}


def test_label_table_bad_column():
    with pytest.raises(KeyError):
        map_labels(_burst_scenario(), pd.DataFrame({"x": [1]}), on="log_host")


def _oauth_scenario() -> Scenario:
    scenario = Scenario(1)
    for minute in range(0, 200, 10):
        cause = "oauth_token_invalid" if 60 <= minute < 90 else "ok"
        scenario.add(MONDAY + timedelta(minutes=minute), network="n", identity="o@x.example", host="h", port=587,
                     mechanism="XOAUTH2", cause=cause)
    scenario.add(MONDAY, network="n", identity="p@x.example", host="h", port=587, mechanism="PLAIN")
    return scenario


def test_token_age_from_events():
    events = ReadResult(events=[
        (MONDAY - timedelta(minutes=5), None, "n/w1.log", 1, "local", "note", None, None,
         "token refreshed for o@x.example, expires_in=3599"),
        (MONDAY + timedelta(minutes=85), None, "n/w1.log", 400, "local", "note", None, None,
         "access token refreshed, expires_in=3599"),
        (MONDAY + timedelta(minutes=86), None, "n/w1.log", 401, "local", "note", None, None, "connection pool ready"),
    ])
    refreshes = token_refreshes(events_frame(events))
    assert len(refreshes) == 2
    assert refreshes["identity"].iloc[0] == "o@x.example"
    assert pd.isna(refreshes["identity"].iloc[1])
    frame = add_token_age(_oauth_scenario().frame(), refreshes=refreshes)
    oauth = frame[frame["auth_mechanism"] == "XOAUTH2"].sort_values("start")
    assert oauth["token_age_s"].iloc[0] == 300
    assert oauth["token_age_s"].iloc[9] == 300  # 90 min, refreshed at 85 min by a line without an identity
    assert set(oauth["token_age_basis"]) == {"refresh_events"}
    assert frame.loc[frame["auth_mechanism"] == "PLAIN", "token_age_s"].isna().all()


def test_token_age_from_table():
    tokens = pd.DataFrame({"identity": ["o@x.example", "o@x.example"],
                           "refreshed_at": [MONDAY - timedelta(minutes=1), MONDAY + timedelta(minutes=88)]})
    frame = add_token_age(_oauth_scenario().frame(), tokens=tokens)
    oauth = frame[frame["auth_mechanism"] == "XOAUTH2"].sort_values("start")
    assert oauth["token_age_s"].iloc[8] == 81 * 60
    assert oauth["token_age_s"].iloc[9] == 2 * 60
    assert set(oauth["token_age_basis"]) == {"tokens_table"}


def test_token_age_estimated():
    frame = add_token_age(_oauth_scenario().frame())
    oauth = frame[frame["auth_mechanism"] == "XOAUTH2"].sort_values("start")
    assert set(oauth["token_age_basis"]) == {"estimated"}
    assert oauth["token_age_s"].iloc[5] == 50 * 60  # age from the first session
    assert oauth["token_age_s"].iloc[9] == 0  # first success after the failures restarts the age
    assert oauth["token_age_s"].iloc[10] == 10 * 60


def test_local_time_in_zone():
    frame = add_local_time(_burst_scenario(), "America/New_York")
    assert frame["hour"].iloc[0] == 19
    assert frame["weekday"].iloc[0] == 6  # Sunday evening in New York


def test_enrich_keeps_input_and_attrs():
    frame = _burst_scenario()
    frame.attrs["files"] = ["x"]
    before = list(frame.columns)
    out = enrich(frame, tz="UTC")
    assert list(frame.columns) == before
    assert out.attrs["files"] == ["x"]
    for column in ("network", "burst_identity_1m", "burst_network_10m", "parallel_sessions", "idle_gap_s",
                   "token_age_s", "token_age_basis", "hour", "weekday"):
        assert column in out.columns

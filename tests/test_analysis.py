"""Statistics helpers: Wilson intervals, tests, funnels, thresholds, change points."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from scenarios import Scenario
from smtplogkit.analysis import (association, describe_association, cause_first_last_seen, change_points, change_points_by,
                                 estimate_threshold, failed_mask, failure_rate, failures_by_hour_weekday, stage_funnel,
                                 wilson_interval)


@pytest.mark.parametrize(("successes", "trials"), [(0, 10), (3, 10), (10, 10), (47, 1000), (500, 1000)])
def test_wilson_matches_scipy(successes, trials):
    expected = stats.binomtest(successes, trials).proportion_ci(method="wilson")
    low, high = wilson_interval(successes, trials)
    assert low == pytest.approx(expected.low, abs=1e-9)
    assert high == pytest.approx(expected.high, abs=1e-9)


def test_wilson_holds_rate():
    # Rounding once put 0 of n's lower bound just above 0, and matplotlib refused the negative error bar.
    for trials in range(1, 2001):
        for successes in (0, trials):
            low, high = wilson_interval(successes, trials)
            rate = successes / trials
            assert 0.0 <= low <= rate <= high <= 1.0, (successes, trials)


def test_wilson_without_trials():
    low, high = wilson_interval(0, 0)
    assert np.isnan(low)
    assert np.isnan(high)


def test_failure_rate_by_network():
    frame = Scenario(1).healthy(600).rewrite("reputation_blocked", network="office").frame()
    table = failure_rate(frame, "network")
    assert table.loc["office", "rate"] == 1.0
    assert table.loc["dc1", "failures"] == 0
    assert table.loc["office", "low"] > 0.9
    assert (table["low"] <= table["rate"]).all()
    assert (table["rate"] <= table["high"]).all()


def test_association_two_groups_uses_fisher():
    frame = Scenario(2).healthy(400, networks=("a", "b")).rewrite("connect_timeout", network="a", count=40).frame()
    result = association(frame, "network")
    assert result["test"] == "fisher_exact"
    assert result["p_value"] < 1e-6
    assert result["effect"] == "odds_ratio"


def test_association_many_groups_uses_chi2():
    frame = Scenario(3).healthy(600).rewrite("connect_timeout", network="office", count=60).frame()
    result = association(frame, "network")
    assert result["test"] == "chi2"
    assert 0.2 < result["effect_size"] <= 1.0
    assert result["p_value"] < 1e-6


def test_association_without_failures():
    # Three networks and no failure at all: chi-square has nothing to compare, and must not raise.
    frame = Scenario(5).healthy(300).frame()
    result = association(frame, "network", failed=pd.Series(False, index=frame.index))
    assert frame["network"].nunique() >= 3
    assert result["test"] is None
    assert result["p_value"] is None


def test_describe_association_two_groups():
    frame = Scenario(2).healthy(400, networks=("a", "b")).rewrite("connect_timeout", network="a", count=40).frame()
    sentence = describe_association(association(frame, "network"))
    assert sentence.startswith("Failures by network: Fisher's exact test, p < 0.001 (unlikely to be chance)")
    assert "odds ratio" in sentence


def test_describe_association_infinite_odds():
    # One network never fails: the odds ratio is infinite, and the sentence names the reason.
    result = {"label": "network", "test": "fisher_exact", "p_value": 0.20000000000000004, "effect": "odds_ratio",
              "effect_size": float("inf"), "table": {"office": [5, 0], "prod": [3, 2]}}
    sentence = describe_association(result)
    assert "p = 0.2 " in sentence
    assert "infinite because office has no failures" in sentence
    assert "inf" not in sentence.replace("infinite", "")


def test_describe_association_without_test():
    frame = Scenario(5).healthy(300).frame()
    result = association(frame, "network", failed=pd.Series(False, index=frame.index))
    assert describe_association(result).startswith("No test for network")


def test_association_no_difference():
    frame = Scenario(4).healthy(600).sparse_failures(0.05).frame()
    assert association(frame, "network")["p_value"] > 0.001


def test_stage_funnel_counts():
    scenario = Scenario(5).healthy(200)
    scenario.rewrite("connect_timeout", count=20).rewrite("auth_failed", count=10)
    funnel = stage_funnel(scenario.frame())
    assert funnel.loc["attempted", "reached"] == 200
    assert funnel.loc["connect", "reached"] == 200
    assert funnel.loc["connect", "passed"] == 180
    assert funnel.loc["connect", "failed_here"] == 20
    assert funnel.loc["auth", "failed_here"] == 10
    assert funnel.loc["data", "passed"] == 170


def test_stage_funnel_monotone():
    """Auth failures after a plain EHLO (STARTTLS skipped) count as past the starttls row."""
    scenario = Scenario(5).healthy(200)
    scenario.rewrite("auth_failed", count=15).rewrite("connect_timeout", count=10).rewrite("greylisted", count=5)
    frame = scenario.frame()
    plain_auth = (frame["failure_stage"] == "auth") & (frame["last_stage_reached"] == "ehlo")
    assert plain_auth.sum() == 15
    funnel = stage_funnel(frame)
    assert funnel.loc["starttls", "passed"] == funnel.loc["auth", "reached"]
    for earlier, later in zip(funnel.index[:-1], funnel.index[1:]):
        assert funnel.loc[later, "reached"] <= funnel.loc[earlier, "reached"], (earlier, later)
        assert funnel.loc[later, "passed"] <= funnel.loc[earlier, "passed"], (earlier, later)
        assert funnel.loc[later, "reached"] <= funnel.loc[earlier, "passed"], (earlier, later)


def test_hour_weekday_table_shape():
    frame = Scenario(6).healthy(500).sparse_failures(0.1).frame()
    table = failures_by_hour_weekday(frame)
    assert table.shape == (7, 24)
    assert table.to_numpy().sum() == int(failed_mask(frame).sum())


def test_threshold_finds_step():
    rng = np.random.default_rng(0)
    values = pd.Series(rng.uniform(0, 1000, 2000))
    failed = pd.Series((values > 600) & (rng.random(2000) < 0.9))
    step = estimate_threshold(values, failed)
    assert step is not None
    assert step.value == pytest.approx(600, rel=0.02)
    assert step.below.rate < 0.01
    assert step.above.rate > 0.8
    assert step.p_value < 1e-10


def test_threshold_needs_a_step():
    rng = np.random.default_rng(1)
    values = pd.Series(rng.uniform(0, 1000, 2000))
    failed = pd.Series(rng.random(2000) < 0.02)
    step = estimate_threshold(values, failed)
    assert step is None or step.p_value > 1e-4


def test_threshold_too_few_sessions():
    assert estimate_threshold(pd.Series([1.0, 2.0, 3.0]), pd.Series([False, True, True])) is None


def test_change_points_start_and_stop():
    times = pd.Series(pd.date_range("2026-12-01", periods=300, freq="10min", tz="UTC"))
    failed = pd.Series([100 <= i < 180 for i in range(300)])
    points = change_points(times, failed)
    assert [p.direction for p in points] == ["starts", "stops"]
    assert points[0].time == times[100]
    assert points[1].time == times[180]


def test_change_points_none_in_noise():
    rng = np.random.default_rng(2)
    times = pd.Series(pd.date_range("2026-12-01", periods=500, freq="5min", tz="UTC"))
    assert change_points(times, pd.Series(rng.random(500) < 0.05)) == []


def test_change_points_by_network():
    scenario = Scenario(7).healthy(900)
    since = scenario.start + pd.Timedelta(days=1, hours=14)
    for row in scenario.rows:
        if row["network"] == "dc1" and row["start"] >= since:
            scenario._set_cause(row, "connect_timeout")
    frame = scenario.frame()
    table = change_points_by(frame, "network", failed_mask(frame))
    first_failure = frame.loc[(frame["network"] == "dc1") & (frame["start"] >= since), "start"].min()
    assert list(table["network"]) == ["dc1"]
    assert table["direction"].iloc[0] == "starts"
    assert table["time"].iloc[0] == first_failure


def test_cause_first_last_seen_undated():
    # curl and JavaMail print no times, so their sessions have no start but still count.
    start = pd.to_datetime(["2026-12-05 08:00", None, None, "2026-12-05 09:00", "2026-12-05 10:00"], utc=True)
    frame = pd.DataFrame({
        "cause": pd.Categorical(["auth_failed", "auth_failed", "auth_failed", "connect_timeout", "ok"]),
        "start": start,
    })
    table = cause_first_last_seen(frame, failed_mask(frame))

    assert list(table.index) == ["auth_failed", "connect_timeout"]
    assert table.loc["auth_failed", "sessions"] == 3
    assert table.loc["auth_failed", "undated"] == 2
    assert table.loc["auth_failed", "first_seen"] == start[0]
    assert table.loc["auth_failed", "last_seen"] == start[0]
    assert table.loc["connect_timeout", "sessions"] == 1
    assert table.loc["connect_timeout", "undated"] == 0

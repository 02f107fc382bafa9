"""Plots return labelled Figures, draw on a given Axes, and never show."""

from __future__ import annotations

import subprocess
import sys

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from scenarios import Scenario  # noqa: E402
from smtplogkit import plots  # noqa: E402
from smtplogkit.enrichment import enrich  # noqa: E402

PLOTS = {
    "plot_stage_funnel": {},
    "plot_failures_over_time": {},
    "plot_hour_weekday": {"tz": "Europe/Berlin"},
    "plot_burst_rate": {},
    "plot_token_age": {},
    "plot_failure_rate_by": {"by": "network"},
}


@pytest.fixture(scope="module")
def sessions():
    scenario = Scenario(3).healthy(1500).sparse_failures().rate_limit(limit=40).token_expiry()
    return enrich(scenario.frame())


@pytest.mark.parametrize("name", sorted(PLOTS))
def test_plot_labels(name, sessions):
    figure = getattr(plots, name)(sessions, **PLOTS[name])
    ax = figure.axes[0]
    assert ax.get_title()
    assert ax.get_xlabel()
    assert ax.get_ylabel()
    plt.close(figure)


@pytest.mark.parametrize("name", sorted(PLOTS))
def test_plot_on_axes(name, sessions):
    figure, ax = plt.subplots()
    assert getattr(plots, name)(sessions, ax=ax, **PLOTS[name]) is figure
    assert ax.has_data() or ax.images
    plt.close(figure)


def test_burst_plot_marks_threshold(sessions):
    figure = plots.plot_burst_rate(sessions)
    labels = [line.get_label() for line in figure.axes[0].get_lines()]
    assert "estimated threshold: 40" in labels
    plt.close(figure)


def test_plots_on_raw_sessions():
    frame = Scenario(4).healthy(300).sparse_failures(0.2).frame()
    figure = plots.plot_token_age(frame)
    assert "no OAuth sessions" in figure.axes[0].texts[0].get_text()
    plt.close(figure)


def test_import_stays_light():
    code = ("import sys, smtplogkit; heavy = [m for m in ('pandas', 'scipy', 'matplotlib') if m in sys.modules]; "
            "print(','.join(heavy))")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert run.stdout.strip() == ""


def test_lazy_exports_are_functions():
    code = ("import smtplogkit; from smtplogkit.enrichment import add_burst_rate; "
            "print(callable(smtplogkit.diagnose), callable(smtplogkit.enrich), smtplogkit.Findings.__name__)")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert run.stdout.split() == ["True", "True", "Findings"]


def test_funnel_legend_covers_no_bar(sessions):
    figure = plots.plot_stage_funnel(sessions)
    figure.canvas.draw()
    renderer = figure.canvas.get_renderer()
    ax = figure.axes[0]
    legend = ax.get_legend().get_window_extent(renderer)
    for bar in ax.patches:
        box = bar.get_window_extent(renderer)
        if box.width > 0:
            assert not legend.overlaps(box), bar
    plt.close(figure)

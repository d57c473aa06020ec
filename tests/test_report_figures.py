"""The report's figures as a reader of a paper sees them, on the cases of the three shipped reports: the microgrid
(centralized and a short primal decomposition), the market (centralized and aggregative tracking) and the
100-vehicle EV fleet (centralized and a short primal decomposition).

Every figure :func:`ecodec.report.plots.report_figures` gives for those runs (the figures the report draws) is
rendered with the Agg canvas and checked:

* legends: no legend's window extent overlaps the window extent of any visible axes (the whole axes box, not only
  its lines: a legend beside a line but inside the box still hides the grid and invites overlap), and it lies
  within the figure;
* labels: no axis label or title shows a code name (an underscore); a time axis shows clock time (concise date
  ticks) when the case has a start, 'time [h]' when it has none;
* many agents: the EV cost chart has several bars per run, named vehicles and 'other ev (95)';
* prices: the reactive-power price of microgrid_8 (zero; the solver returns noise of 1e-14) is drawn as exact zeros,
  and no axis shows an offset or multiplier text (the start of a time axis is in its label);
* nothing is blank: every axes area has drawn pixels that are not white.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.dates import ConciseDateFormatter

from ecodec.models.registry import agent_classes
from ecodec.report import plots
from ecodec.results import CaseSummary
from ecodec.study import compare_case

pytestmark = pytest.mark.xdist_group("report-figures")  # one process solves the three cases once

CASES = {"microgrid": ("cases/microgrid_8.xlsx", ["centralized", "primal-decomposition"]),
         "market": ("cases/community_market.xlsx", ["centralized", "aggregative-tracking"]),
         "ev": ("cases/ev_dundee_100.xlsx", ["centralized", "primal-decomposition"])}
TIME_FIGURES = ("dispatch_", "stored_energy", "grid_exchange", "coupling_prices")


@pytest.fixture(scope="module")
def studies():
    return {name: compare_case(path, methods, stopping={"max_iterations": 3}) for name, (path, methods) in
            CASES.items()}


@pytest.fixture(scope="module")
def drawn(studies):
    """(case, figure name) -> the figure, drawn on an Agg canvas."""
    out = {}
    for case, study in studies.items():
        for stem, fig in plots.report_figures(study.runs, study.summary).items():
            name = stem.split("_", 1)[1]  # '04_dispatch_active_power' -> 'dispatch_active_power': the section number varies
            FigureCanvasAgg(fig).draw()
            out[case, name] = fig
    return out


def test_the_report_draws_the_expected_figures(drawn):
    names = {case: [name for c, name in drawn if c == case] for case in CASES}
    assert names["microgrid"] == ["case_communication_network", "convergence", "dispatch_active_power",
                                  "dispatch_reactive_power", "dispatch_heat", "stored_energy", "grid_exchange",
                                  "coupling_prices", "costs_per_agent"]
    assert names["market"] == ["case_communication_network", "convergence", "market_per_agent",
                               "market_decisions_per_iteration", "costs_per_agent"]
    assert names["ev"] == ["case_communication_network", "convergence", "dispatch_active_power", "stored_energy",
                           "coupling_prices", "costs_per_agent"]


def test_no_legend_overlaps_an_axes_area(drawn):
    for (case, name), fig in drawn.items():
        renderer = fig.canvas.get_renderer()
        legends = list(fig.legends) + [ax.get_legend() for ax in fig.axes if ax.get_legend() is not None]
        assert legends, f"{case} {name}: no legend"
        figure_box = fig.bbox
        for legend in legends:
            box = legend.get_window_extent(renderer)
            assert figure_box.x0 - 1 <= box.x0 and box.x1 <= figure_box.x1 + 1 and figure_box.y0 - 1 <= box.y0, \
                f"{case} {name}: legend outside the figure"
            for ax in fig.axes:
                if ax.get_visible():
                    assert not box.overlaps(ax.get_window_extent(renderer)), f"{case} {name}: legend on the axes"


def _texts(fig):
    for ax in fig.axes:
        if ax.get_visible():
            yield from (ax.get_xlabel(), ax.get_ylabel(), ax.get_title())
    if fig._suptitle is not None:
        yield fig._suptitle.get_text()


def test_labels_are_words_and_time_axes_show_clock_time(drawn, studies):
    for (case, name), fig in drawn.items():
        for text in _texts(fig):
            assert "_" not in text, f"{case} {name}: code name in the label {text!r}"
        if name.startswith(TIME_FIGURES):
            start = studies[case].runs[0].start
            assert start, case
            for ax in fig.axes:
                if ax.get_visible():
                    assert isinstance(ax.xaxis.get_major_formatter(), ConciseDateFormatter), (case, name)
            bottom = fig.axes[-1] if name == "coupling_prices" else fig.axes[0]
            ticks = [t.get_text() for t in bottom.get_xticklabels() if t.get_text()]
            assert any(":" in t for t in ticks), (case, name, ticks)  # hours and minutes of the day
            assert bottom.get_xlabel() == f"time from {pd.Timestamp(start):%d %b %Y %H:%M}", (case, name)
    dispatch = drawn["microgrid", "dispatch_active_power"]
    assert dispatch.axes[0].get_ylabel() == "Active power [kW]"
    assert "required net supply" in [t.get_text() for t in dispatch.legends[0].get_texts()]
    ev = drawn["ev", "dispatch_active_power"]
    assert "connection limit" in [t.get_text() for t in ev.legends[0].get_texts()]
    assert drawn["microgrid", "grid_exchange"].axes[0].get_ylabel() == "grid import (+), grid export (-) [kW]"
    assert drawn["ev", "stored_energy"].axes[0].get_ylabel() == "stored energy [kWh]"


def test_a_case_without_a_start_is_drawn_in_hours(studies):
    runs = [dataclasses.replace(run, start="") for run in studies["microgrid"].runs]
    for fig in (plots.prices(runs), plots.dispatch(runs, "heat"), plots.storage(runs), plots.grid_exchange(runs)):
        FigureCanvasAgg(fig).draw()
        assert not isinstance(fig.axes[-1].xaxis.get_major_formatter(), ConciseDateFormatter)
        assert fig.axes[-1].get_xlabel() == "time [h]"
        assert fig.axes[-1].get_xlim()[1] == pytest.approx(24.0, abs=1.5)


def test_the_fleet_cost_chart_names_the_largest_vehicles_and_sums_the_rest(drawn, studies):
    fig = drawn["ev", "costs_per_agent"]
    ax = fig.axes[0]
    runs = [run for run in studies["ev"].runs if run.has_solution]
    assert len(ax.patches) == 6 * len(runs)  # five vehicles and 'other ev (95)' per run
    labels = [t.get_text() for t in ax.get_yticklabels()]
    costs = runs[0].agent_costs.set_index("agent")["cost"].astype(float)
    largest = list(costs.abs().sort_values(ascending=False, kind="stable").index[:5])
    assert labels == largest + ["other ev (95)"]
    reference_bars = ax.patches[:6]
    assert reference_bars[-1].get_width() == pytest.approx(costs.drop(largest).sum())
    assert reference_bars[0].get_width() == pytest.approx(costs[largest[0]])
    stacked = drawn["ev", "dispatch_active_power"].legends[0].get_texts()
    assert "other ev (95)" in [t.get_text() for t in stacked]


def test_a_zero_price_is_drawn_as_zero_without_offset_text(drawn, studies):
    reference = studies["microgrid"].runs[0]
    noise = reference.coupling.loc[reference.coupling["resource"] == "reactive_power", "price"].to_numpy(float)
    assert np.abs(noise).max() < 1e-9  # the true price is 0; the solver returns noise
    fig = drawn["microgrid", "coupling_prices"]
    panel = next(ax for ax in fig.axes if ax.get_title() == "Reactive power")
    lines = [line for line in panel.get_lines() if line.get_label() in {r.method for r in studies["microgrid"].runs}]
    assert lines and all(np.all(np.asarray(line.get_ydata(), float) == 0.0) for line in lines)
    for (case, name), fig in drawn.items():
        for ax in fig.axes:
            assert ax.yaxis.get_offset_text().get_text() == "", (case, name)
            assert ax.xaxis.get_offset_text().get_text() == "", (case, name)


def test_no_figure_is_blank(drawn):
    for (case, name), fig in drawn.items():
        pixels = np.asarray(fig.canvas.buffer_rgba())[..., :3].astype(float)
        height = pixels.shape[0]
        for ax in fig.axes:
            if not ax.get_visible():
                continue
            box = ax.get_window_extent()
            area = pixels[int(height - box.y1):int(height - box.y0), int(box.x0):int(box.x1)]
            coloured = np.mean(area.max(axis=-1) - area.min(axis=-1) > 40)
            assert coloured > 0.002, f"{case} {name}: (almost) nothing drawn in an axes"


def test_labels_are_declared_with_the_agents_and_saved_with_the_case(studies):
    for cls in agent_classes():
        for output in cls.outputs:
            assert output.label and "_" not in output.label, (cls.__name__, output.quantity)
    summary = studies["microgrid"].summary
    assert summary.labels["resources"]["active_power"] == "Active power"
    assert summary.labels["quantities"]["grid"]["p_import"] == "grid import"
    saved = summary.to_json_dict()
    assert CaseSummary.from_json_dict(saved) == summary
    del saved["labels"]  # a summary saved before labels were recorded
    old = CaseSummary.from_json_dict(saved)
    assert old.labels == {} and plots.storage(studies["microgrid"].runs, old).axes[0].get_ylabel() == \
        "stored energy [kWh]"

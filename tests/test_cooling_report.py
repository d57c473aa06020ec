"""The report of a cooling district: zone temperatures against their comfort bands, the chillers' and the shared
storage's schedules, what the shared storage saves, and the consensus error of methods that keep copies.

Expected numbers are computed here from the case (read again with ``read_case``) and the saved RunResults, or by
solving the case without its storage independently of the study layer; nothing is hard-coded.
"""

from __future__ import annotations

import dataclasses
import shutil
import subprocess

import numpy as np
import pandas as pd
import pytest

from ecodec.decomposition import run
from ecodec.io.workbook import read_case
from ecodec.network import CommunicationNetwork
from ecodec.problem import CoupledProblem, problem_from_case
from ecodec.report import plots, write_report
from ecodec.report.figures import convergence_figure
from ecodec.results import compare, load_case_summary, load_runs
from ecodec.study import compare_case, report_saved_runs

pytestmark = [pytest.mark.skipif(shutil.which("pdftotext") is None, reason="poppler-utils missing: run 'make setup'"),
              pytest.mark.xdist_group("cooling-report")]

CASE = "cases/cooling_district_4.xlsx"
BAND_HEADING = "Zone temperature against its band"
SCHEDULE_HEADINGS = ("Building: own chiller's cooling output", "Cold storage: cold charged and cold discharged")


def pdf_text(path) -> str:
    text = subprocess.run(["pdftotext", "-layout", str(path), "-"], check=True, capture_output=True, text=True).stdout
    return " ".join(text.split())


@pytest.fixture(scope="module")
def district(tmp_path_factory):
    """The centralized compare of the four-building district, saved and reported."""
    directory = tmp_path_factory.mktemp("cooling")
    study = compare_case(CASE, ["centralized"], output=directory / "runs", report=directory / "district.pdf")
    return study, directory


@pytest.fixture(scope="module")
def without_storage():
    """The district solved centrally without its storage agents, built here from the case."""
    problem = problem_from_case(read_case(CASE))
    kept = [agent for agent in problem.agents if agent.kind != "cold_storage"]
    smaller = CoupledProblem(kept, problem.resources, problem.grid, name=problem.name, currency=problem.currency)
    return run(smaller, CommunicationNetwork.named("complete", [a.name for a in kept]), "centralized")


def test_the_saved_comparison_records_what_the_shared_storage_saves(district, without_storage):
    study, directory = district
    reference = load_runs(directory / "runs")[0]
    value = reference.info["shared_assets"]
    assert value["kinds"] == ["cold_storage"] and value["agents"] == ["tank"]
    assert value["cost_with"] == pytest.approx(study.reference.objective, rel=1e-12)
    assert value["cost_without"] == pytest.approx(without_storage.objective, rel=1e-9)
    saving = without_storage.objective - study.reference.objective
    assert saving > 0  # the storage is used
    assert value["saving"] == pytest.approx(saving, rel=1e-9)
    assert value["saving_pct"] == pytest.approx(100 * saving / without_storage.objective, rel=1e-9)


def test_the_report_says_what_the_shared_storage_saves(district, without_storage, tmp_path):
    study, directory = district
    saving = without_storage.objective - study.reference.objective
    words = (f"the shared storage saves {saving:,.2f} EUR "
             f"({100 * saving / without_storage.objective:.1f}%)")
    assert words in pdf_text(directory / "district.pdf")
    again = report_saved_runs(directory / "runs", tmp_path / "again.pdf")  # re-rendered from disk, no solve
    assert words in pdf_text(again)


def test_the_band_and_schedule_figures_appear_for_the_district(district):
    study, directory = district
    text = pdf_text(directory / "district.pdf")
    for heading in (BAND_HEADING, *SCHEDULE_HEADINGS, "Value of the shared storage"):
        assert text.count(heading) == 2, heading  # in the contents and as the heading
    names = [name.split("_", 1)[1] for name in plots.report_figures(study.runs, study.summary)]
    assert [n for n in names if n.startswith("dispatch_")][-3:] == [
        "dispatch_zone_temperature_against_its_band", "dispatch_building_own_chiller_s_cooling_output",
        "dispatch_cold_storage_cold_charged_and_cold_discharged"]


def test_the_band_recorded_with_the_case_is_the_declared_one(district):
    study, directory = district
    summary = load_case_summary(directory / "runs")
    case = read_case(CASE)
    declared = {type(a).kind: {o.quantity: list(o.band) for o in type(a).outputs if o.band}
                for a in problem_from_case(case).agents}
    assert summary.labels["bands"] == {kind: bands for kind, bands in declared.items() if bands}
    for spec in case.agents_of_kind("building"):
        for name in ("t_min_c", "t_max_c"):
            expected = np.broadcast_to(np.asarray(spec.params[name], float), (case.T,))
            assert summary.labels["profiles"][spec.name][name] == pytest.approx(expected.tolist())


def _violation(run_result, case) -> tuple[float, str, int]:
    """Largest max(t_min - t_zone, t_zone - t_max, 0) over buildings and steps, computed from the case."""
    worst = (0.0, "-", 0)
    for spec in case.agents_of_kind("building"):
        rows = run_result.dispatch[(run_result.dispatch["agent"] == spec.name)
                                   & (run_result.dispatch["quantity"] == "t_zone")].sort_values("t")
        value = rows["value"].to_numpy(float)
        low = np.broadcast_to(np.asarray(spec.params["t_min_c"], float), value.shape)
        high = np.broadcast_to(np.asarray(spec.params["t_max_c"], float), value.shape)
        excess = np.maximum(np.maximum(low - value, value - high), 0.0)
        if excess.max() > worst[0]:
            worst = (float(excess.max()), spec.name, int(rows["t"].iloc[int(excess.argmax())]))
    return worst


def test_the_violation_table_holds_each_runs_largest_band_violation(district, tmp_path):
    """A copy of the reference whose zone temperature leaves the band at one step: the table shows both runs'
    largest violation as computed from the case's comfort bands."""
    study, _ = district
    reference = study.reference
    dispatch = reference.dispatch.copy()
    hit = (dispatch["agent"] == "b2") & (dispatch["quantity"] == "t_zone") & (dispatch["t"] == 40)
    dispatch.loc[hit, "value"] += 7.25
    warm = dataclasses.replace(reference, method="warm", dispatch=dispatch, info={})
    runs = [reference, warm]
    case = read_case(CASE)
    expected = {r.method: _violation(r, case) for r in runs}
    assert expected["centralized"][0] == 0.0 and expected["warm"][0] > 0
    pdf = write_report(tmp_path / "warm.pdf", runs, compare(runs, reference), study.summary)
    text = pdf_text(pdf)
    for method, (value, agent, step) in expected.items():
        row = f"{method} {value:.3g} {agent} {step if value else '-'}"
        assert row in text, row


def test_a_case_without_bands_or_shared_assets_has_none_of_these_parts(tmp_path):
    study = compare_case("cases/microgrid_8.xlsx", ["centralized"], report=tmp_path / "microgrid.pdf")
    assert "shared_assets" not in study.reference.info
    assert not study.summary.labels.get("bands") and not study.summary.labels.get("schedules")
    text = pdf_text(tmp_path / "microgrid.pdf")
    for words in ("against its band", "Value of the shared", "saves", "consensus error"):
        assert words not in text, words


def test_twenty_buildings_are_grouped_in_the_band_figure():
    study = compare_case("cases/cooling_district_20.xlsx", ["centralized"])
    fig = plots.report_figures(study.runs, study.summary)
    band = next(f for name, f in fig.items() if name.endswith("zone_temperature_against_its_band"))
    labels = [t.get_text() for t in band.legends[0].get_texts()]
    buildings = [spec.name for spec in read_case("cases/cooling_district_20.xlsx").agents_of_kind("building")]
    assert f"other building ({len(buildings) - 5}): range" in labels
    assert len([label for label in labels if label in buildings]) == 5


def _with_history(reference, history: pd.DataFrame, method: str):
    return dataclasses.replace(reference, method=method, history=history, info={"iterations": len(history)})


def test_the_consensus_error_is_drawn_when_a_run_records_it(district):
    study, _ = district
    reference = study.reference
    iterations = np.arange(1, 6)
    consensus = 10.0 ** -iterations.astype(float)
    history = pd.DataFrame({"iteration": iterations, "objective": reference.objective * (1 + consensus),
                            "rel_violation": consensus, "consensus_error": consensus})
    fig = convergence_figure([reference, _with_history(reference, history, "copies")])
    panels = [ax for ax in fig.axes if ax.get_visible() and "consensus error" in ax.get_title()]
    assert len(panels) == 1 and panels[0].get_yscale() == "log"
    line = next(line for line in panels[0].get_lines() if line.get_label() == "copies")
    assert np.allclose(line.get_ydata(), consensus)
    plain = convergence_figure([reference, _with_history(reference, history.drop(columns="consensus_error"),
                                                         "plain")])
    assert not any("consensus error" in ax.get_title() for ax in plain.axes)


def test_the_new_figures_keep_the_figure_rules(district):
    """Words with units on the axes (no code names), and the legend below the axes, overlapping none of them."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    study, _ = district
    figures = {name: fig for name, fig in plots.report_figures(study.runs, study.summary).items()
               if "against_its_band" in name or "building" in name or "cold_storage" in name}
    assert len(figures) == 3
    for name, fig in figures.items():
        FigureCanvasAgg(fig).draw()
        renderer = fig.canvas.get_renderer()
        axes = [ax for ax in fig.axes if ax.get_visible()]
        for ax in axes:
            assert "_" not in ax.get_xlabel() + ax.get_ylabel() + ax.get_title(), name
        assert "[" in axes[0].get_ylabel(), name  # a unit
        legend = fig.legends[0].get_window_extent(renderer)
        assert not any(legend.overlaps(ax.get_window_extent(renderer)) for ax in axes), name

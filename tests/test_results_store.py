"""Runs on disk: exact round trips, clear errors for missing or damaged files, interrupted saves.

The results come from the centralized solve of the shipped 8-agent microgrid; a "distributed-like" result is
that solve copied by hand with changed numbers and a hand-made iteration history.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest

from ecodec.decomposition.centralized import solve_centralized
from ecodec.errors import EcodecError
from ecodec.io.workbook import read_case
from ecodec.problem.from_case import problem_from_case
from ecodec.results import RunResult, compare, load_run, load_runs, save_run, save_runs, store

ROOT = Path(__file__).resolve().parents[1]
TABLES = ("dispatch", "coupling", "agent_costs", "history")


@pytest.fixture(scope="session")  # once per test process, even when modules interleave
def centralized() -> RunResult:
    return solve_centralized(problem_from_case(read_case(ROOT / "cases" / "microgrid_8.xlsx")))


def distributed_like(reference: RunResult) -> RunResult:
    """A copy of the centralized run with values that need all 17 digits, NaN prices and a history."""
    run = copy.deepcopy(reference)
    run.method, run.status = "dual_decomposition", "iteration_limit"
    run.objective = reference.objective * (1 + 1 / 3)
    run.dispatch["value"] = run.dispatch["value"] / 3.0
    run.coupling["price"] = np.nan
    run.coupling.loc[5, "residual"] = -np.inf
    run.history = pd.DataFrame({
        "iteration": [1, 2, 3], "objective": [0.1 + 0.2, 1 / 7, 2 / 3], "max_violation": [30.0, 3.0, 0.3],
        "rel_violation": [0.1, 0.01, 1e-300], "cost_gap": [0.5, np.nan, 5e-324], "distance": [1.0, 0.5, 0.25],
        "messages": [16, 32, 48], "step": [1.0, 2.0, 3.0]})
    run.info = {"iterations": np.int64(3), "message": "stopped at the iteration limit (3)", "messages": 48,
                "wall_time_s": np.float64(1.25), "options": {"step": 0.5, "tol": None}, "warnings": [],
                "bound": float("inf")}
    return run


def assert_same_run(loaded: RunResult, saved: RunResult) -> None:
    for name in TABLES:
        pd.testing.assert_frame_equal(getattr(loaded, name), getattr(saved, name), check_exact=True)
    assert (loaded.method, loaded.case_name, loaded.status, loaded.currency, loaded.step_h) == (
        saved.method, saved.case_name, saved.status, saved.currency, saved.step_h)
    assert loaded.objective == saved.objective
    assert loaded.info == saved.info


def test_centralized_run_round_trips_exactly(centralized, tmp_path):
    directory = save_run(centralized, tmp_path / "run")
    assert {p.name for p in directory.iterdir()} == {"summary.json", "dispatch.csv", "coupling.csv",
                                                     "agent_costs.csv", "history.csv", "contributions.csv",
                                                     "results.xlsx"}
    loaded = load_run(directory)
    assert_same_run(loaded, centralized)
    assert loaded.history.empty
    assert loaded.dispatch["value"].dtype == np.float64 and loaded.dispatch["t"].dtype == np.int64
    summary = json.loads((directory / "summary.json").read_text())  # strict JSON a person can read
    assert summary["method"] == "centralized" and summary["objective"] == centralized.objective
    assert "history" not in openpyxl.load_workbook(directory / "results.xlsx", read_only=True).sheetnames


def test_run_with_history_round_trips_exactly(centralized, tmp_path):
    run = distributed_like(centralized)
    loaded = load_run(save_run(run, tmp_path / "run"))
    assert_same_run(loaded, run)
    assert loaded.history["step"].dtype == np.float64  # whole numbers in a float column stay floats
    assert loaded.history["cost_gap"].iloc[2] == 5e-324 and np.isnan(loaded.history["cost_gap"].iloc[1])
    assert loaded.coupling["price"].isna().all() and loaded.coupling.loc[5, "residual"] == -np.inf
    assert loaded.info["bound"] == float("inf")
    sheets = openpyxl.load_workbook(tmp_path / "run" / "results.xlsx", read_only=True).sheetnames
    assert sheets[-1] == "history"


def test_missing_or_damaged_files_are_named(centralized, tmp_path):
    with pytest.raises(EcodecError, match=r"nowhere[/\\]summary\.json: missing"):
        load_run(tmp_path / "nowhere")

    directory = save_run(centralized, tmp_path / "run")
    (directory / "summary.json").write_text('{"method": "centralized", ')
    with pytest.raises(EcodecError) as caught:
        load_run(directory)
    message = str(caught.value)
    assert str(directory / "summary.json") in message and "not valid JSON" in message
    assert "Traceback" not in message

    save_run(centralized, directory)
    text = (directory / "dispatch.csv").read_text()
    (directory / "dispatch.csv").write_text(text.replace("mt1", "mt9", 1))
    with pytest.raises(EcodecError, match=r"dispatch\.csv: does not match summary\.json"):
        load_run(directory)

    save_run(centralized, directory)
    (directory / "history.csv").unlink()
    with pytest.raises(EcodecError, match=r"history\.csv: missing"):
        load_run(directory)


def test_interrupted_save_leaves_earlier_files_intact(centralized, tmp_path, monkeypatch):
    """A save killed while writing agent_costs.csv: that file and all later ones keep their earlier bytes."""
    directory = save_run(centralized, tmp_path / "run")
    before = {p.name: p.read_bytes() for p in directory.iterdir()}
    real_atomic_write = store.atomic_write

    def dying_atomic_write(path, write):
        if Path(path).name != "agent_costs.csv":
            return real_atomic_write(path, write)

        def half_then_killed(tmp: Path) -> None:
            write(tmp)
            tmp.write_bytes(tmp.read_bytes()[: tmp.stat().st_size // 2])
            raise KeyboardInterrupt

        return real_atomic_write(path, half_then_killed)

    monkeypatch.setattr(store, "atomic_write", dying_atomic_write)
    new = distributed_like(centralized)
    with pytest.raises(KeyboardInterrupt):
        save_run(new, directory)
    after = {p.name: p.read_bytes() for p in directory.iterdir()}
    assert set(after) == set(before)  # no temporary file left behind
    for name in ("agent_costs.csv", "history.csv", "results.xlsx", "summary.json"):
        assert after[name] == before[name]
    assert after["dispatch.csv"] != before["dispatch.csv"]  # written before the kill
    with pytest.raises(EcodecError, match=r"dispatch\.csv: does not match summary\.json .*interrupted"):
        load_run(directory)  # the mix of two runs is reported, not returned

    monkeypatch.undo()
    assert_same_run(load_run(save_run(new, directory)), new)  # a complete re-save replaces every file


def test_several_runs_of_one_case(centralized, tmp_path):
    other = distributed_like(centralized)
    comparison = compare([other], centralized)
    directory = save_runs([other, centralized], tmp_path / "case", comparison)
    assert {p.name for p in directory.iterdir()} == {"dual_decomposition", "centralized", "comparison.json",
                                                     "comparison.csv", "runs.json"}
    loaded = load_runs(directory)
    assert [r.method for r in loaded] == ["centralized", "dual_decomposition"]
    assert_same_run(loaded[0], centralized)
    assert_same_run(loaded[1], other)
    assert json.loads((directory / "comparison.json").read_text()) == comparison.to_json_dict()
    assert comparison.to_json_dict()["dual_decomposition"]["max_violation"] is None  # the -inf residual: no number
    table = pd.read_csv(directory / "comparison.csv")
    assert list(table["method"]) == ["centralized", "dual_decomposition"]
    assert table["objective"].tolist() == [centralized.objective, other.objective]

    save_runs([centralized], directory)  # without a comparison the stale one is removed
    assert not (directory / "comparison.json").exists() and not (directory / "comparison.csv").exists()
    assert [r.method for r in load_runs(directory)] == ["centralized"]

    with pytest.raises(EcodecError, match="several runs are named centralized"):
        save_runs([centralized, centralized], tmp_path / "twice")
    (directory / "runs.json").write_text("[]")
    with pytest.raises(EcodecError, match=r"runs\.json: expected a JSON object"):
        load_runs(directory)


def test_case_summary_is_saved_with_the_runs_and_read_back(centralized, tmp_path):
    from ecodec.io.workbook import read_case
    from ecodec.network import network_from_case
    from ecodec.problem import problem_from_case
    from ecodec.results import case_summary, load_case_summary

    case = read_case("cases/microgrid_8.xlsx")
    problem, network = problem_from_case(case), network_from_case(case)
    summary = case_summary(problem, network)
    assert summary.kinds()[:2] == ["microturbine", "renewable"]
    mt1 = summary.agents_of("microturbine")[0]
    assert mt1["name"] == "mt1" and mt1["parameters"]["p_max_kw"] == problem.agent("mt1").p_max_kw
    pv = next(a for a in summary.agents if a["name"] == "pv_roof")
    available = np.asarray(problem.agent("pv_roof").availability_pu, dtype=float)
    assert pv["parameters"]["availability_pu"] == {"min": available.min(), "max": available.max(),
                                                "mean": pytest.approx(available.mean())}
    active = summary.resources[0]
    assert (active["name"], active["sense"], active["unit"]) == ("active_power", "==", "kW")
    assert active["peak"] == pytest.approx(np.abs(problem.resources[0].rhs).max())
    assert len(summary.network["edges"]) == len(network.edges)
    run = centralized
    run.case_name = problem.name
    directory = save_runs([run], tmp_path / "runs", summary=summary)
    assert load_case_summary(directory) == summary
    save_runs([run], directory)  # saved again without a summary: no stale one is left
    assert load_case_summary(directory) is None

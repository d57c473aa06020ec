"""Comparison KPIs against hand computations from known perturbations of the centralized optimum."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ecodec.decomposition.centralized import solve_centralized
from ecodec.errors import EcodecError
from ecodec.io.workbook import read_case
from ecodec.problem.from_case import problem_from_case
from ecodec.results import RunResult, compare, kpi

ROOT = Path(__file__).resolve().parents[1]
PEAK_LOAD_KW = 304.216  # the largest active-power demand of microgrid_8 (its 'resources' row profile)

# a hand-made history: both KPIs first at or below 1e-2 at iteration 5; never both at or below 1e-3
GAPS = [0.5, 0.05, 0.009, 0.02, 0.005, 0.0005]
VIOLATIONS = [0.3, 0.001, 0.02, 0.005, 0.009, 0.002]


@pytest.fixture(scope="session")  # once per test process, even when modules interleave
def reference() -> RunResult:
    return solve_centralized(problem_from_case(read_case(ROOT / "cases" / "microgrid_8.xlsx")))


def history(objective: float) -> pd.DataFrame:
    n = len(GAPS)
    return pd.DataFrame({"iteration": range(1, n + 1), "objective": [objective * (1 + g) for g in GAPS],
                         "max_violation": [v * PEAK_LOAD_KW for v in VIOLATIONS], "rel_violation": VIOLATIONS,
                         "cost_gap": GAPS, "distance": np.linspace(1.0, 0.1, n), "messages": range(16, 16 * n + 1, 16)})


def perturbed(reference: RunResult, method: str = "admm") -> RunResult:
    run = copy.deepcopy(reference)
    run.method, run.status = method, "converged"
    run.history = history(reference.objective)
    run.info = {"iterations": len(GAPS), "wall_time_s": 2.5, "messages": 96, "message": "converged: test"}
    return run


def test_reference_against_itself_has_no_gap_or_distance(reference):
    row = compare([reference], reference).table().iloc[0]
    assert row["method"] == "centralized" and row["status"] == "optimal"
    assert row["objective"] == reference.objective
    assert row["cost_gap"] == 0.0 and row["distance"] == 0.0
    assert row["rel_violation"] < 1e-12
    assert row["iterations"] == 1 and row["iterations_to_1pct"] == 1 and row["iterations_to_0.1pct"] == 1
    assert row["messages"] == 0 and row["message"] == reference.info["message"]


def test_perturbed_run_kpis_equal_hand_values(reference):
    run = perturbed(reference)
    run.objective = reference.objective * 1.02
    d, row_index = 7.5, 100
    run.dispatch.loc[row_index, "value"] += d
    step = run.coupling.index[(run.coupling["resource"] == "active_power") & (run.coupling["t"] == 40)][0]
    run.coupling.loc[step, ["lhs", "residual"]] += [3.0, 3.0]  # 3 kW more injection than the balance needs

    table = compare([reference, run], reference).table().set_index("method")
    admm = table.loc["admm"]
    norm_reference = np.sqrt(np.sum(reference.dispatch["value"].to_numpy() ** 2))
    assert admm["cost_gap"] == pytest.approx(0.02, rel=1e-12)
    assert admm["distance"] == pytest.approx(d / norm_reference, rel=1e-12)
    assert admm["rel_violation"] == pytest.approx(3 / PEAK_LOAD_KW, rel=1e-12)
    assert admm["max_violation"] == pytest.approx(3.0, rel=1e-12)
    assert admm["rms_violation"] == pytest.approx(3 / np.sqrt(len(run.coupling)), rel=1e-9)
    assert (admm["iterations"], admm["iterations_to_1pct"], admm["wall_time_s"], admm["messages"]) == (6, 5, 2.5, 96)
    assert pd.isna(admm["iterations_to_0.1pct"])
    assert table.loc["centralized", "cost_gap"] == 0.0

    # a row missing on one side counts as 0 on that side
    dropped = reference.dispatch.drop(index=row_index)
    value = reference.dispatch.loc[row_index, "value"]
    assert kpi.relative_decision_distance(dropped, reference.dispatch) == pytest.approx(
        abs(value) / norm_reference, rel=1e-12)


def test_iterations_to_on_a_hand_made_history(reference):
    h = history(reference.objective)
    assert kpi.iterations_to(h, 1e-2) == 5
    assert kpi.iterations_to(h, 0.009) == 5  # at the tolerance counts as reached
    assert kpi.iterations_to(h, 1e-1) == 2
    assert kpi.iterations_to(h, 1e-3) is None
    assert kpi.iterations_to(h.drop(columns="cost_gap"), 1e-2) is None
    assert kpi.iterations_to(pd.DataFrame(), 1e-2) is None

    # a history recorded without a reference gets its gaps from its objective column
    run = perturbed(reference)
    run.history = run.history.drop(columns="cost_gap")
    row = compare([run], reference).table().set_index("method").loc["admm"]
    assert row["iterations_to_1pct"] == 5 and pd.isna(row["iterations_to_0.1pct"])


def test_format_table_and_json(reference):
    run = perturbed(reference)
    run.objective = reference.objective * 1.02
    failed = RunResult("dual_decomposition", reference.case_name, "failed", None, reference.currency,
                       reference.step_h, reference.dispatch.iloc[:0], reference.coupling.iloc[:0],
                       reference.agent_costs.iloc[:0], info={"iterations": 0, "message": "diverged"})
    comparison = compare([run, failed], reference)
    text = comparison.format_table()
    lines = text.splitlines()
    for method, objective in (("centralized", reference.objective), ("admm", run.objective)):
        line = next(line for line in lines if line.startswith(method))
        assert f"{objective:.2f}" in line
    failed_line = next(line for line in lines if line.startswith("dual_decomposition"))
    assert "n/a" in failed_line and "> 0" in failed_line
    admm_line = next(line for line in lines if line.startswith("admm "))
    assert "2.00e-02" in admm_line and "> 6" in admm_line
    assert "  admm: converged: test" in lines
    widths = {len(line) for line in lines[1:5]}
    assert len(widths) == 1  # fixed width: header, rule and rows line up

    data = comparison.to_json_dict()
    assert list(data) == ["centralized", "admm", "dual_decomposition"]
    assert data["dual_decomposition"]["objective"] is None and data["admm"]["iterations_to_0.1pct"] is None
    assert json.loads(json.dumps(data, allow_nan=False)) == data


def test_compare_needs_a_reference_with_a_solution(reference):
    failed = copy.deepcopy(reference)
    failed.objective, failed.status = None, "infeasible"
    failed.info["message"] = "the case is infeasible"
    with pytest.raises(EcodecError, match="reference run 'centralized' has no solution"):
        compare([reference], failed)
    with pytest.raises(EcodecError, match="several runs are named admm"):
        compare([perturbed(reference), perturbed(reference)], reference)

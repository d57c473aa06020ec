"""The scale S_r relative coupling violations are measured against (CoupledProblem.violation_scales).

A resource with a nonzero right-hand side keeps its peak |rhs|; a balance whose rhs is 0 at every step (the
district-cooling electricity and cooling networks) is measured against the largest contribution one agent's
bounds allow.  The expected scales here are worked out from the agents' parameters as the case gives them (their
model equations: docs/district_cooling.md), not with the function under test; and the drivers, the coupling rows,
the case summary and the comparison read from disk all measure with the same scales.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from ecodec.decomposition import StoppingRules, run
from ecodec.decomposition.coupling_rows import CouplingRows
from ecodec.io.workbook import read_case
from ecodec.network import network_from_case
from ecodec.problem import CoupledProblem, problem_from_case
from ecodec.results import case_summary, compare, load_case_summary, load_runs, save_runs

COOLING_CASES = ("cooling_district_4", "cooling_district_20", "cooling_district_4_demand_price")
FLOOR = 1e-9  # the documented floor of a resource nothing can put a flow through


def _case(name: str):
    case = read_case(f"cases/{name}.xlsx")
    return problem_from_case(case), network_from_case(case)


def _profile(value, T: int) -> np.ndarray:
    return np.broadcast_to(np.asarray(value, dtype=float), (T,))


def _cop(agent, T: int) -> np.ndarray:
    """COP_t = max(cop - s max(T_out,t - T_ref, 0), min(cop, 1)) (docs/district_cooling.md)."""
    excess = np.maximum(_profile(agent.t_out_c, T) - agent.cop_t_ref_c, 0.0)
    return np.maximum(agent.cop - agent.cop_temp_slope_per_k * excess, min(agent.cop, 1.0))


def _hand_reach(agent, T: int) -> dict[str, float]:
    """The largest |contribution| the agent's bounds allow to each carrier at any step, from its parameters."""
    if agent.kind == "grid":  # p = p_in - p_out in [-max(-p_min, 0), max(p_max, 0)], q in [q_min, q_max]
        p_in = np.maximum(_profile(agent.p_max_kw, T), 0.0)
        p_out = np.maximum(-_profile(agent.p_min_kw, T), 0.0)
        q = np.maximum(np.abs(_profile(agent.q_min_kvar, T)), np.abs(_profile(agent.q_max_kvar, T)))
        return {"active_power": float(np.max(np.maximum(p_in, p_out))), "reactive_power": float(q.max())}
    if agent.kind == "building":  # electricity -Q_chil/COP_t with Q_chil <= max; cold Q_out - Q_in within +-max
        reach = {"active_power": float(np.max(agent.q_chiller_max_kw / _cop(agent, T)))}
        if agent.q_exchange_max_kw > 0:
            reach["cooling"] = float(agent.q_exchange_max_kw)
        return reach
    if agent.kind == "cold_storage":  # q_dis - q_ch
        return {"cooling": float(max(agent.q_charge_max_kw, agent.q_discharge_max_kw))}
    raise AssertionError(f"no hand rule for agent kind {agent.kind!r}")


def _hand_scales(problem) -> dict[str, float]:
    """Per resource: the peak |rhs| when > 0, else the largest single-agent reach, else the floor."""
    out = {}
    for r in problem.resources:
        ends = np.concatenate([r.rhs, r.rhs_upper if r.rhs_upper is not None else []])
        peak = float(np.max(np.abs(ends[np.isfinite(ends)])))
        if peak > 0:
            out[r.name] = peak
            continue
        reach = max((_hand_reach(a, problem.grid.T).get(r.name, 0.0) for a in problem.agents), default=0.0)
        out[r.name] = reach if reach > 0 else FLOOR
    return out


@pytest.mark.parametrize("name", COOLING_CASES)
def test_a_balance_with_zero_rhs_is_measured_against_the_largest_single_agent_reach(name):
    problem, _ = _case(name)
    assert all(np.all(r.rhs == 0.0) for r in problem.resources)  # the networks balance themselves
    expected = _hand_scales(problem)
    scales = problem.violation_scales()
    assert scales.shape == (len(problem.resources),)
    for r, scale in zip(problem.resources, scales):
        assert scale == pytest.approx(expected[r.name], rel=1e-12), r.name
    assert problem.violation_scales_by_name() == pytest.approx(expected, rel=1e-12)
    # the two networks that carry a flow get a scale of the size of their flows, not the floor
    assert min(expected["active_power"], expected["cooling"]) > 1.0
    assert problem.violation_scales() is scales  # computed once


@pytest.mark.parametrize("name", ("microgrid_8", "pev_100_budget", "ev_dundee_100"))
def test_a_resource_with_a_nonzero_rhs_keeps_its_peak_rhs_without_building_a_model(name, monkeypatch):
    problem, _ = _case(name)

    def no_model(*args, **kwargs):
        raise AssertionError("violation_scales built a model for a problem whose every rhs is nonzero")

    monkeypatch.setattr(CoupledProblem, "centralized_model", no_model)
    expected = _hand_scales(problem)
    assert all(value > FLOOR for value in expected.values())
    assert problem.violation_scales_by_name() == pytest.approx(expected, rel=1e-12)


def test_coupling_rows_measure_each_row_against_its_resource_scale():
    problem, _ = _case("cooling_district_4")
    rows = CouplingRows.from_problem(problem)
    expected = _hand_scales(problem)
    names = [r.name for r in problem.resources]
    for resource in ("active_power", "cooling"):
        residual = np.zeros(rows.size)
        k = np.flatnonzero(rows.resource == names.index(resource))[7]  # one row of that resource, 2 units off
        residual[k] = -2.0
        assert rows.relative_violation(residual) == pytest.approx(2.0 / expected[resource], rel=1e-12)


@pytest.fixture(scope="module")
def cooling_runs():
    problem, network = _case("cooling_district_4")
    reference = run(problem, network, "centralized")
    short = run(problem, network, "proximal-dual", stopping=StoppingRules(max_iterations=5), reference=reference)
    return problem, network, reference, short


def test_a_short_run_reports_its_violation_relative_to_the_reach(cooling_runs):
    problem, _, _, short = cooling_runs
    expected = _hand_scales(problem)
    last = short.history.iloc[-1]
    coupling = short.coupling
    worst = {r: float(np.max(np.abs(coupling.loc[coupling["resource"] == r, "residual"]))) for r in expected}
    assert last["max_violation"] == pytest.approx(max(worst.values()), rel=1e-9, abs=1e-12)
    assert last["rel_violation"] == pytest.approx(max(worst[r] / expected[r] for r in expected), rel=1e-9,
                                                  abs=1e-15)
    assert math.isfinite(last["rel_violation"]) and last["rel_violation"] < 10.0
    assert last["max_violation"] > 0.0  # five iterations do not balance the networks: the test measures something
    assert short.info["violation_scales"] == pytest.approx(expected, rel=1e-12)


def test_the_comparison_read_back_from_disk_agrees_with_the_last_history_record(cooling_runs, tmp_path):
    problem, network, reference, short = cooling_runs
    summary = case_summary(problem, network)
    directory = save_runs([reference, short], tmp_path / "cooling", compare([short], reference), summary=summary)
    loaded = {r.method: r for r in load_runs(directory)}
    rows = {row["method"]: row for row in compare([loaded["proximal-dual"]], loaded["centralized"]).rows}
    last = loaded["proximal-dual"].history.iloc[-1]
    assert rows["proximal-dual"]["rel_violation"] == pytest.approx(last["rel_violation"], rel=1e-9, abs=1e-15)
    assert rows["proximal-dual"]["max_violation"] == pytest.approx(last["max_violation"], rel=1e-9, abs=1e-12)
    # the centralized optimum meets its balances to solver tolerance, relative to the reach as well
    assert rows["centralized"]["rel_violation"] < 1e-6
    expected = _hand_scales(problem)
    saved = {r["name"]: r for r in load_case_summary(directory).resources}
    for name, scale in expected.items():
        assert saved[name]["peak"] == 0.0 and saved[name]["scale"] == pytest.approx(scale, rel=1e-12)

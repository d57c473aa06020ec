"""Sensitivity of a resource-sharing LP to a new agent: eps(k), the sharing LP, the EV and cargo analyses, the
saved result, the report and ``ecodec sensitivity``; every number against an independent reference."""

from __future__ import annotations

import json
import math
from decimal import Decimal, getcontext

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from scipy.optimize import brentq, linprog

from ecodec.cli import main
from ecodec.errors import EcodecError
from ecodec.io.pev import pev_tables
from ecodec.io.template import write_case_workbook
from ecodec.report.sensitivity_section import fact_rows, price_rows, write_sensitivity_report
from ecodec.results.sensitivity import load_sensitivity
from ecodec.solvers.scenario_epsilon import eps_all, wait_and_judge_epsilon
from ecodec.solvers.sharing_lp import AgentBlock, SharingLP, Tolerances
from ecodec.study.sensitivity import cargo_item, cargo_sensitivity, fleet_sensitivity, sensitivity_analysis


# -- eps(k) ---------------------------------------------------------------------------------------------------
def reference_epsilon(k: int, n: int, beta: float) -> float:
    """eps(k) from the polynomial itself: exact integer binomials, 60-digit decimals, Brent's method on t."""
    getcontext().prec = 60
    c_nk = Decimal(math.comb(n, k))
    coefficients = [Decimal(math.comb(i, k)) for i in range(k, n)]
    b = Decimal(repr(beta)) / n

    def f(t: float) -> float:   # the equation divided by C(N, k) t^(N-k), so that its value stays a float
        td = Decimal(repr(t))
        total = sum(c * td ** (i - n) for c, i in zip(coefficients, range(k, n)))
        return float(1 - b * total / c_nk)

    low = 0.5
    while f(low) > 0:           # g increases in t and is negative near 0: halve until the root is bracketed
        low /= 2
    return 1.0 - brentq(f, low, 1.0, xtol=1e-17, rtol=1e-15)


@pytest.mark.parametrize("k, n, beta", [(7, 900, 1e-3), (0, 10, 0.1), (3, 50, 1e-2), (20, 100, 1e-6),
                                        (60, 100, 0.3), (0, 400, 1e-3), (150, 400, 1e-5), (5, 2000, 1e-3)])
def test_epsilon_matches_high_precision_root(k, n, beta):
    assert wait_and_judge_epsilon(k, n, beta) == pytest.approx(reference_epsilon(k, n, beta), abs=1e-9)


def test_epsilon_closed_forms():
    # k = N - 1: N t = beta / N, so eps = 1 - beta / N^2; N = 1, k = 0: t = beta; k = N: no root, eps = 1
    for n, beta in [(1, 0.3), (2, 1e-3), (50, 0.05), (3000, 1e-4)]:
        assert wait_and_judge_epsilon(n - 1, n, beta) == pytest.approx(1 - beta / n**2, abs=1e-13)
        assert wait_and_judge_epsilon(n, n, beta) == 1.0
    assert wait_and_judge_epsilon(0, 1, 0.3) == pytest.approx(0.7, abs=1e-14)


def test_epsilon_monotone_and_vectorized():
    values = eps_all(120, 1e-3)
    assert values.shape == (121,) and values[-1] == 1.0
    assert np.all(np.diff(values) > 0)                                    # increasing in k
    assert np.allclose(values, [wait_and_judge_epsilon(k, 120, 1e-3) for k in range(121)], rtol=1e-12, atol=0)
    for k in (0, 5, 30):
        by_n = [wait_and_judge_epsilon(k, n, 1e-3) for n in (60, 120, 500, 3000)]
        assert np.all(np.diff(by_n) < 0)                                  # decreasing in N
        by_beta = [wait_and_judge_epsilon(k, 200, b) for b in (1e-9, 1e-6, 1e-3, 0.1, 0.9)]
        assert np.all(np.diff(by_beta) < 0)                               # decreasing in beta
    assert 0.0 < wait_and_judge_epsilon(3, 5000, 1e-3) < 0.01             # N in the thousands stays finite


@pytest.mark.parametrize("k, n, beta, word", [(0, 10, 0.0, "beta"), (0, 10, 1.0, "beta"), (0, 10, "0.1", "beta"),
                                              (0, 0, 0.1, "scenarios"), (0, 2.5, 0.1, "scenarios"),
                                              (-1, 10, 0.1, "support"), (11, 10, 0.1, "support"),
                                              (True, 10, 0.1, "support")])
def test_epsilon_refuses_bad_input(k, n, beta, word):
    with pytest.raises(EcodecError, match=word):
        wait_and_judge_epsilon(k, n, beta)


# -- the sharing LP ---------------------------------------------------------------------------------------------
def item(name: str, profit_per_kg: float, available_kg: float) -> AgentBlock:
    """An item loaded fractionally into one compartment (kg)."""
    return AgentBlock(name, np.array([-profit_per_kg]), np.zeros(1), np.array([available_kg]),
                      sp.csr_array((0, 1)), np.zeros(0), np.zeros(0), sp.csr_array(np.ones((1, 1))))


def test_three_items_by_hand():
    # capacity 15 kg; a (3 EUR/kg, 10 kg) loads fully, b (2 EUR/kg) is marginal with 5 kg, c (1 EUR/kg) stays out:
    # lambda* = 2 EUR/kg.  Removing a or b lets c in (both support, and both move lambda to 1); removing c
    # changes nothing.
    lp = SharingLP([item("a", 3, 10), item("b", 2, 10), item("c", 1, 10)], np.array([15.0]))
    assert lp.objective == pytest.approx(-40.0)
    assert lp.price == pytest.approx([2.0])
    assert [lp.leave_one_out(j).changes_allocation for j in range(3)] == [True, True, False]
    assert [lp.leave_one_out(j).changes_price for j in range(3)] == [True, True, False]
    assert lp.arrival(item("d", 2.5, 1)).changes_allocation          # takes 1 kg from b
    assert not lp.arrival(item("d", 1.5, 1)).changes_allocation      # not worth its room
    tie = lp.arrival(item("d", 2.0, 1))                               # as good as b: b may keep its 5 kg
    assert not tie.changes_allocation and tie.gap == pytest.approx(0.0, abs=1e-9)
    assert lp.objective == pytest.approx(-40.0) and lp.price == pytest.approx([2.0])   # the spare slot emptied


def test_leave_one_out_equals_rebuilt_programs():
    agents = [cargo_item(f"i{s}", s) for s in range(10)]
    capacity = np.array([2500.0, 3500.0, 2000.0, 14.0, 16.0, 7.0])
    lp = SharingLP(agents, capacity)
    for j in range(len(agents)):
        rebuilt = SharingLP(agents[:j] + agents[j + 1:], capacity).arrival(agents[j])
        slot = lp.leave_one_out(j)
        assert slot.changes_allocation == rebuilt.changes_allocation
        assert slot.objective == pytest.approx(rebuilt.objective, rel=1e-9)


def _linprog_face_test(agents: list[AgentBlock], capacity: np.ndarray, new: AgentBlock) -> bool:
    """The allocation rule from scratch with scipy's linprog: dense matrices, no spare slot."""
    def solve(blocks, face_bound=None, n_face=0):
        n = blocks[0].cost.size
        cost = np.concatenate([b.cost for b in blocks])
        own = sp.block_diag([b.own for b in blocks]).toarray()
        usage = np.hstack([b.usage.toarray() for b in blocks])
        a_ub, b_ub = [usage, own], [capacity, np.concatenate([b.own_upper for b in blocks])]
        if face_bound is not None:
            a_ub.append(np.concatenate([cost[: n * n_face], np.zeros(cost.size - n * n_face)])[None, :])
            b_ub.append([face_bound])
        result = linprog(cost, A_ub=np.vstack(a_ub), b_ub=np.concatenate(b_ub),
                         bounds=list(zip(np.concatenate([b.lower for b in blocks]),
                                         np.concatenate([b.upper for b in blocks]))), method="highs")
        return result.fun if result.status == 0 else np.inf

    alone = solve(agents)
    free = solve(agents + [new])
    face = solve(agents + [new], alone + 1e-9 * max(1.0, abs(alone)), len(agents))
    return face - free > 1e-7 * max(1.0, abs(free))


def test_arrival_verdict_equals_full_resolve():
    agents = [cargo_item(f"i{s}", s) for s in range(12)]
    capacity = np.array([2500.0, 3500.0, 2000.0, 14.0, 16.0, 7.0])
    lp = SharingLP(agents, capacity)
    verdicts = []
    for seed in range(100, 180):
        new = cargo_item("new", seed)
        verdicts.append(lp.arrival(new).changes_allocation)
        assert verdicts[-1] == _linprog_face_test(agents, capacity, new), seed
    assert 0 < sum(verdicts) < len(verdicts)        # both verdicts occur: the comparison is not vacuous


def test_cargo_verdict_is_positive_best_response_at_price():
    # items can be left out (0 in X), so a new item changes the others' shares iff its best response at lambda*
    # has positive value: max_k (profit_k - w lambda_weight,k - v lambda_volume,k) > 0 (section 6.3)
    agents = [cargo_item(f"i{s}", s) for s in range(40)]
    capacity = np.array([8400.0, 12600.0, 7000.0, 48.0, 56.0, 24.0])
    lp = SharingLP(agents, capacity)
    verdicts = []
    for seed in range(1000, 1200):
        new = cargo_item("new", seed)
        best_response = float(np.max(-new.cost - new.usage.T @ lp.price)) > 1e-9
        verdicts.append(lp.arrival(new).changes_allocation)
        assert verdicts[-1] == best_response, seed
    assert 0 < sum(verdicts) < len(verdicts)


def test_knapsack_support_and_frequency_against_greedy():
    # one compartment, items of 1 kg with profit r ~ U[1, 3] EUR/kg: the greedy fill is optimal; the price is the
    # marginal item's r, the support items are the loaded ones (removing one lets the next in), and a new item
    # changes the others' shares iff r_new > lambda*: probability (3 - lambda*) / 2.
    def draw(seed):
        return item(f"n{seed}", float(np.random.default_rng(seed).uniform(1.0, 3.0)), 1.0)

    agents = [draw(s) for s in range(30)]
    capacity = 10.5
    ratios = np.sort([-a.cost[0] for a in agents])[::-1]
    marginal = ratios[int(capacity)]                        # the 11th best item is half loaded
    resources = pd.DataFrame({"resource": ["weight"], "unit": ["kg"], "price_unit": ["EUR/kg"]})
    for seed in (1, 2, 3):
        result = sensitivity_analysis(agents, np.array([capacity]), resources, draw, beta=1e-3, draws=400,
                                      seed=seed, objective_sign=-1.0)
        assert result.resources["price"].iloc[0] == pytest.approx(marginal)
        assert result.s_star == math.ceil(capacity)
        assert result.objective == pytest.approx(ratios[:10].sum() + 0.5 * marginal)
        p = (3.0 - marginal) / 2.0
        assert abs(result.frequency - p) <= 3 * math.sqrt(p * (1 - p) / 400)   # three standard deviations
        assert result.frequency <= result.eps_s_star


# -- EV fleets -------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def fleet8(tmp_path_factory):
    path = tmp_path_factory.mktemp("fleet") / "fleet8.xlsx"
    write_case_workbook(path, pev_tables(8, 0, "lp"))
    return path


def test_fleet_lp_equals_ecodec_centralized_solve(fleet8):
    from ecodec.io.workbook import read_case
    from ecodec.study import solve_case
    from ecodec.study.sensitivity import fleet_problem

    case = read_case(fleet8)
    agents, capacity, _, _, _ = fleet_problem(case)
    lp = SharingLP(agents, capacity)
    reference = solve_case(case)                           # the Pyomo model of ElectricVehicle, solved by HiGHS
    assert lp.objective == pytest.approx(reference.objective, rel=1e-7)
    total = np.zeros(case.T)
    for spec in case.agents:                              # each schedule checked against the vehicle's own data
        p = lp.shares()[spec.name]
        v = spec.params
        energy = v["e_init_kwh"] + v["eta_charge"] * case.step_h * np.cumsum(p)
        assert np.all(p >= -1e-9) and np.all(p <= v["p_charge_kw"] + 1e-9)
        assert np.all(energy >= v["e_min_kwh"] - 1e-6) and np.all(energy <= v["e_max_kwh"] + 1e-6)
        assert energy[-1] >= v["e_target_kwh"] - 1e-6
        total += p
    assert np.all(total <= capacity + 1e-7)
    prices = reference.coupling.sort_values("t")["price"].to_numpy()
    assert np.abs(prices) * case.step_h == pytest.approx(lp.price, abs=1e-7)


def test_fleet_frequency_below_bound(fleet8):
    result = fleet_sensitivity(fleet8, beta=1e-3, draws=1000, seed=0)
    assert result.draws == 1000 and len(result.draws_table) == 1000
    assert 0 < result.frequency <= result.eps_s_star
    assert result.eps_s_star == pytest.approx(wait_and_judge_epsilon(result.s_star, 8, 1e-3))
    assert result.changes == int(result.draws_table["changes_allocation"].sum())


def test_fleet_refuses_mixed_integer_vehicles(tmp_path):
    path = tmp_path / "milp.xlsx"
    write_case_workbook(path, pev_tables(4, 0, "milp"))
    with pytest.raises(EcodecError, match="continuous"):
        fleet_sensitivity(path, draws=5)


# -- result, report, command -------------------------------------------------------------------------------------
def test_result_round_trip_and_report_numbers(tmp_path):
    result = cargo_sensitivity(n_items=12, draws=120, seed=4)
    loaded = load_sensitivity(result.save(tmp_path / "saved"))
    assert loaded.summary() == result.summary()
    for name in ("resources", "agents", "draws_table", "epsilon"):
        pd.testing.assert_frame_equal(getattr(loaded, name), getattr(result, name), check_dtype=False)
    facts = dict((label, value) for label, value in fact_rows(loaded))
    assert int(facts["support agents s* (allocation rule)"]) == result.s_star
    assert float(facts["eps(s*) (bound, confidence 1 - beta)"]) == pytest.approx(result.eps_s_star, rel=1e-5)
    assert float(facts["Monte-Carlo frequency"]) == pytest.approx(result.changes / 120, rel=1e-5)
    low, high = (float(v) for v in facts["95% Clopper-Pearson interval"].strip("[]").split(","))
    assert (low, high) == pytest.approx(result.interval, rel=1e-5)
    prices = [float(row[3]) for row in price_rows(loaded)[1:]]
    assert prices == pytest.approx(result.resources["price"].tolist(), rel=1e-5)
    pdf = write_sensitivity_report(loaded, tmp_path / "report.pdf")
    assert pdf.read_bytes()[:5] == b"%PDF-"


def test_cli_json_and_exit_codes(tmp_path, capsys):
    assert main(["sensitivity", "cargo", "--items", "8", "--draws", "60", "--seed", "2", "--json",
                 "--output", str(tmp_path / "out")]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["n_agents"] == 8 and summary["draws"] == 60
    assert summary["frequency"] == pytest.approx(summary["changes"] / 60)
    assert summary["eps_s_star"] == pytest.approx(wait_and_judge_epsilon(summary["s_star"], 8, 1e-3))
    assert load_sensitivity(tmp_path / "out").changes == summary["changes"]
    for argv in (["--beta", "0"], ["--draws", "0"], ["--report", str(tmp_path / "r.txt")], ["--items", "0"]):
        assert main(["sensitivity", "cargo", *argv]) == 2
        assert "error:" in capsys.readouterr().err
    assert main(["sensitivity", str(tmp_path / "missing.xlsx")]) == 2


def test_interrupted_monte_carlo_keeps_the_draws_judged():
    calls = []

    def draw(seed):
        calls.append(seed)
        if len(calls) == 5:
            raise KeyboardInterrupt
        return item(f"n{seed}", 1.0 + (seed % 7) / 3.0, 1.0)

    agents = [item(f"i{s}", 1.0 + s / 4.0, 1.0) for s in range(6)]
    resources = pd.DataFrame({"resource": ["weight"], "unit": ["kg"], "price_unit": ["EUR/kg"]})
    result = sensitivity_analysis(agents, np.array([3.5]), resources, draw, draws=50)
    assert result.interrupted and result.draws == 4 and len(result.draws_table) == 4
    assert result.changes == int(result.draws_table["changes_allocation"].sum())


def test_tolerances_validated():
    with pytest.raises(EcodecError, match="objective_rel"):
        Tolerances(objective_rel=0.0)

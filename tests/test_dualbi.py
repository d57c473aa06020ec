"""DualBi and the horizon-scope coupling row it prices (a total-energy budget).

The tiny fleet: 3 slots of 1 h (kW = kWh) priced 0.1, 0.2, 0.3 EUR/kWh; two vehicles of 1 kW, lossless, empty at
arrival, needing 1 kWh by the end, holding at most 3 kWh; vehicle a values each kWh beyond its target at
0.35 EUR, b at 0.25 EUR.  A vehicle charging k slots takes the k cheapest, so its cost is
cost(k) = (sum of the k cheapest prices) - w (k - 1):

    a: cost(1) = 0.10, cost(2) = 0.30 - 0.35 = -0.05, cost(3) = 0.60 - 0.70 = -0.10
    b: cost(1) = 0.10, cost(2) = 0.30 - 0.25 =  0.05, cost(3) = 0.60 - 0.50 =  0.10

Unconstrained they take 3 + 2 = 5 kWh.  With a budget of 3 kWh (each needs at least 1) the extra kWh goes to a's
second slot (it saves 0.15, b's second only 0.05): optimum (2, 1) = -0.05 + 0.10 = 0.05 EUR.  Pricing the budget
at lambda per kWh, a takes its second slot while lambda < 0.15 and its third while lambda < 0.05, b its second
while lambda < 0.05: the budget is met exactly (3 kWh) for lambda in (0.05, 0.15), where the dual function is
phi = (-0.05 + 2 lambda) + (0.10 + lambda) - 3 lambda = 0.05: no duality gap, optimal prices [0.05, 0.15].
With continuous charging and a budget of 2.5 kWh, a takes half of its second slot: 0.10 + 0.5 (0.2 - 0.35) + 0.10
= 0.125 EUR, and each kWh more of budget saves 0.15 EUR: the budget's price (d cost / d rhs, rhs = -budget) is
+0.15 EUR/kWh.
"""

from __future__ import annotations

import numpy as np
import pytest

from ecodec.cli import main
from ecodec.decomposition import StoppingRules, options_for, run, spec_of
from ecodec.errors import CaseError, ProblemError
from ecodec.io.pev import energy_range_kwh, pev_tables
from ecodec.io.template import example_tables, write_case_workbook
from ecodec.io.workbook import read_case
from ecodec.models import ElectricVehicle
from ecodec.models.base import TimeGrid
from ecodec.network import CommunicationNetwork
from ecodec.problem import CoupledProblem, CouplingResource, problem_from_case
from ecodec.results import kpi
from ecodec.runtime import InProcessRuntime

PRICES = np.array([0.1, 0.2, 0.3])


def budget_fleet(budget_kwh: float, mode: str = "binary"):
    vehicles = [ElectricVehicle(name=name, mode=mode, p_charge_kw=1.0, e_max_kwh=3.0, e_init_kwh=0.0,
                                e_target_kwh=1.0, price_per_kwh=PRICES, departure_value_per_kwh=value)
                for name, value in (("a", 0.35), ("b", 0.25))]
    budget = np.full(3, -budget_kwh)  # only the last step's value is read for a horizon row
    resources = [CouplingResource("active_power_total", ">=", budget, unit="kWh", scope="horizon",
                                  carrier="active_power")]
    problem = CoupledProblem(vehicles, resources, TimeGrid(3, 1.0), name="budget")
    return problem, CommunicationNetwork.from_edges(["a", "b"], [("a", "b")])


def energy(result, agent: str) -> float:
    rows = result.dispatch[(result.dispatch["agent"] == agent) & (result.dispatch["quantity"] == "p")]
    return float(rows["value"].sum())


def test_a_horizon_row_binds_the_energy_over_the_day_and_is_priced_per_kwh():
    problem, network = budget_fleet(2.5, mode="continuous")
    result = run(problem, network, "centralized")
    assert result.status == "optimal" and result.objective == pytest.approx(0.125)
    assert (energy(result, "a"), energy(result, "b")) == pytest.approx((1.5, 1.0))
    rows = result.coupling.sort_values("t")
    # the running energy so far, bound at the last step only
    np.testing.assert_allclose(rows["lhs"], [-2.0, -2.5, -2.5], atol=1e-9)
    assert list(np.isfinite(rows["lower"])) == [False, False, True] and rows["lower"].iloc[-1] == -2.5
    np.testing.assert_allclose(rows["price"], [0.0, 0.0, 0.15], atol=1e-9)
    assert set(rows["price_unit"]) == {"EUR/kWh"}


def test_dualbi_finds_the_hand_optimum_and_a_price_in_the_optimal_dual_set():
    problem, network = budget_fleet(3.0)
    reference = run(problem, network, "centralized")
    assert reference.objective == pytest.approx(0.05)
    result = run(problem, network, "dualbi", stopping=StoppingRules(max_iterations=60))
    assert result.status == "converged"
    assert result.objective == pytest.approx(0.05, abs=1e-9)
    assert (energy(result, "a"), energy(result, "b")) == pytest.approx((2.0, 1.0))
    history = result.history
    # lambda = 0: 5 kWh, over the budget; the first upper end is Lambda = 0.3 (the dearest slot), feasible
    assert history["row_value"].iloc[0] == pytest.approx(5.0) and history["feasible"].iloc[0] == 0.0
    assert history["price"].iloc[1] == pytest.approx(0.3) and history["upper_bound"].iloc[1] == pytest.approx(0.2)
    shift = 2 * 1e-4 * PRICES.sum()  # at most sum_i D_i for the default perturbation 1e-4
    assert np.all(history["lower_bound"] <= 0.05 + 1e-9)
    assert history["lower_bound"].iloc[-1] >= 0.05 - shift
    price = result.coupling["price"].iloc[-1]
    assert 0.05 - 1e-3 <= price <= 0.15  # the bracket's upper end, within the optimal dual set


def test_dualbi_incumbent_is_feasible_from_the_first_upper_end_and_never_worsens():
    problem, network = budget_fleet(3.0)
    history = run(problem, network, "dualbi", stopping=StoppingRules(max_iterations=60)).history
    first = int(np.flatnonzero(history["feasible"].to_numpy() == 1.0)[0])
    upper = history["upper_bound"].to_numpy()
    assert np.all(np.isnan(upper[:first])) and np.all(np.isfinite(upper[first:]))
    assert np.all(np.diff(upper[first:]) <= 0.0)
    lower = history["lower_bound"].to_numpy()
    assert np.all(np.diff(lower) >= 0.0)
    # the bracket only shrinks once bisecting, and each price lies in the previous bracket
    bisect = history[history["phase"] == 1.0]
    assert np.all(np.diff(bisect["price_high"] - bisect["price_low"]) <= 0.0)


def test_dualbi_on_a_fleet_whose_unpriced_decisions_meet_the_budget_stops_at_once():
    problem, network = budget_fleet(5.0)
    result = run(problem, network, "dualbi")
    assert result.status == "converged" and len(result.history) == 1
    assert result.objective == pytest.approx(-0.10 + 0.05)
    assert "unpriced decisions meet the coupling row" in result.info["message"]


def test_dualbi_refuses_more_than_one_row_and_reports_an_unreachable_budget():
    problem, network = budget_fleet(1.5)  # both need 1 kWh: 2 kWh at least
    result = run(problem, network, "dualbi")
    assert result.status == "infeasible" and not result.has_solution and result.history.empty
    assert ("on active_power_total cannot be met: the agents' total is at most -2 kWh however they are priced "
            "(LP relaxations), below the -1.5 kWh of the row") in result.info["message"]
    vehicles = [ElectricVehicle(name="a", p_charge_kw=1.0, e_max_kwh=3.0, e_init_kwh=0.0, e_target_kwh=1.0,
                                price_per_kwh=PRICES)]
    feeder = CoupledProblem(vehicles, [CouplingResource("active_power", ">=", np.full(3, -1.0), unit="kW")],
                            TimeGrid(3, 1.0))
    with pytest.raises(ProblemError, match="dualbi prices one scalar inequality coupling row; this case has 3"):
        run(feeder, CommunicationNetwork.from_edges(["a"], []), "dualbi")


def test_dualbi_stops_as_infeasible_when_no_upper_end_is_found():
    problem, network = budget_fleet(3.0)
    options = options_for("dualbi", {"price_start": 1e-6, "max_expansions": 3})
    result = run(problem, network, "dualbi", options)
    assert result.status == "infeasible"
    assert "no price up to" in result.info["message"] and "max_expansions" in result.info["message"]


@pytest.mark.slow
def test_generated_budget_fleet_binds_and_dualbi_certifies_one_percent_within_30_iterations(tmp_path):
    """The acceptance fleet: 100 on/off vehicles (seed 0) under a total-energy budget."""
    tables = pev_tables(100, 0, "milp", coupling="budget")
    least, most = energy_range_kwh(tables["evs"])
    budget = -tables["resources"][0]["rhs"]
    assert budget == pytest.approx(least + 0.5 * (most - least), abs=1e-6)
    path = tmp_path / "budget.xlsx"
    write_case_workbook(path, tables)
    problem = problem_from_case(read_case(path))
    network = CommunicationNetwork.from_edges([a.name for a in problem.agents],
                                              [(r["from"], r["to"]) for r in tables["network"]])
    reference = run(problem, network, "centralized", options_for("centralized", {"mip_rel_gap": 1e-4}))
    used = -reference.coupling["lhs"].iloc[-1]
    assert used == pytest.approx(budget, abs=1.5)  # the budget binds (within one slot of one vehicle)
    options = options_for("dualbi", {"gap_tol": 1e-9})  # keep bisecting: look at iteration 30
    result = run(problem, network, "dualbi", options, stopping=StoppingRules(max_iterations=30), reference=reference)
    history = result.history
    assert len(history) <= 30  # the shared rule may stop it earlier, on the cost gap to the reference
    assert history["certified_gap"].iloc[-1] < 1e-2
    assert np.all(history["lower_bound"] <= reference.objective + 1e-9)
    assert history["lower_bound"].iloc[-1] <= reference.info["objective_bound"] + 1e-6 * abs(reference.objective)
    first = int(np.flatnonzero(history["feasible"].to_numpy() == 1.0)[0])
    assert np.all(np.diff(history["upper_bound"].to_numpy()[first:]) <= 0.0)
    assert kpi.relative_coupling_violation(result.coupling) == 0.0  # the incumbent meets the budget
    assert result.objective == pytest.approx(history["upper_bound"].iloc[-1])


def test_workbook_horizon_rows_need_one_number_in_kwh(tmp_path):
    tables = example_tables()
    tables["resources"] = [dict(tables["resources"][0]), {"name": "active_power", "sense": ">=", "rhs": "load_kw",
                                                          "unit": "kW", "scope": "horizon"}]
    path = tmp_path / "bad.xlsx"
    write_case_workbook(path, tables)
    with pytest.raises(CaseError) as caught:
        read_case(path)
    text = str(caught.value)
    assert "resources" in text and "row 3" in text and "'load_kw'" in text and "not a profile" in text
    assert "with an h for scope 'horizon'" in text
    tables["resources"][1].update(rhs=-50.0, unit="kWh")
    write_case_workbook(path, tables)
    case = read_case(path)
    assert [(r.name, r.scope) for r in case.resources] == [("active_power", "step"), ("active_power", "horizon")]
    assert [r.name for r in problem_from_case(case).resources] == ["active_power", "active_power_total"]


def test_cli_runs_dualbi_on_a_generated_budget_fleet_and_refuses_it_on_a_feeder_fleet(tmp_path, capsys):
    budget, feeder = tmp_path / "budget.xlsx", tmp_path / "feeder.xlsx"
    assert main(["generate", "pev", "--n", "6", "--seed", "2", "--coupling", "budget", "-o", str(budget)]) == 0
    assert "total-energy budget" in capsys.readouterr().out
    assert main(["run", str(budget), "--method", "dualbi", "-q", "--output", str(tmp_path / "runs")]) == 0
    out = capsys.readouterr().out
    assert "dualbi: converged" in out or "dualbi: certified" in out
    assert main(["generate", "pev", "--n", "6", "--seed", "2", "--pmax-per-vehicle", "2", "-o", str(feeder)]) == 0
    code = main(["run", str(feeder), "--method", "dualbi", "-q", "--output", str(tmp_path / "runs2")])
    err = capsys.readouterr().err
    assert code == 2 and "dualbi prices one scalar inequality coupling row; this case has 24" in err
    assert "Traceback" not in err


def _agents(problem, network, **given):
    """DualBi's agents on ``problem`` after set-up, with options ``given``."""
    driver = spec_of("dualbi").driver(problem, InProcessRuntime(network), options_for("dualbi", given))
    driver.setup()
    return driver.local


def test_a_reply_between_two_prices_with_the_same_decisions_is_the_hand_one_without_a_solve():
    """Agent a charges 2 slots for every lambda in (0.05, 0.15) (module docstring): its priced cost there is
    -0.05 + 2 lambda, e.g. 0.15 at lambda = 0.1, up to the perturbation (at most D_a either way)."""
    a = _agents(*budget_fleet(3.0))["a"]
    fresh = _agents(*budget_fleet(3.0), reuse_decisions=False)["a"]
    solved_at = {price: a.step(price) for price in (0.06, 0.14)}
    reply = a.step(0.1)
    assert a.skipped == 1  # proved by the solves at 0.06 and 0.14, which both charge 2 slots
    assert reply[:2] == pytest.approx([2.0, -0.05], abs=1e-12)  # g_a = 2 kWh, f_a = cost(2)
    assert 0.15 - a.perturbation_shift - 1e-9 <= reply[2] <= 0.15 + a.perturbation_shift + 1e-9
    solved = fresh.step(0.1)
    assert fresh.skipped == 0 and np.array_equal(fresh.x, a.x)
    assert solved[:2] == pytest.approx(reply[:2], abs=1e-12) and reply[2] == pytest.approx(solved[2], abs=1e-9)
    # a price solved before is answered from that solve, exactly
    assert np.array_equal(a.step(0.14), solved_at[0.14]) and a.skipped == 2
    # a price between two different decisions (3 slots at 0.04, 2 at 0.06) is solved
    a.step(0.04)
    a.step(0.05 - 1e-3)
    assert a.skipped == 2 and a.row_values(a.x)[0] == pytest.approx(3.0)  # 3 slots below 0.05


@pytest.mark.parametrize("seed", [0, 1])
def test_reusing_replies_and_warm_starts_keep_the_run_and_its_certificate(seed, tmp_path):
    """On generated budget fleets of 10 vehicles: with the solved replies reused, the prices, row values and
    incumbents are those of solving every vehicle at every price and the lower bounds agree to the agents' MIP gap;
    a warm start changes the bounds by no more than that either; and every lower bound lies below every upper bound
    of every variant (all bound the same optimum)."""
    tables = pev_tables(10, seed, "milp", coupling="budget")
    write_case_workbook(tmp_path / "fleet.xlsx", tables)
    problem = problem_from_case(read_case(tmp_path / "fleet.xlsx"))
    network = CommunicationNetwork.from_edges([a.name for a in problem.agents],
                                              [(r["from"], r["to"]) for r in tables["network"]])
    histories = {}
    for reuse, warm in ((False, False), (True, False), (False, True), (True, True)):
        options = options_for("dualbi", {"gap_tol": 1e-9, "reuse_decisions": reuse, "warm_start": warm})
        result = run(problem, network, "dualbi", options, stopping=StoppingRules(max_iterations=20))
        histories[reuse, warm] = result.history
        assert (result.info["replies_without_solve"] > 0) == reuse  # each reply without a solve is counted
    plain = histories[False, False]
    assert plain["feasible"].sum() > 0 and plain["phase"].iloc[-1] == 1.0  # bisecting, with an incumbent
    tolerance = 1e-6 * plain["upper_bound"].abs().max()  # the agents' mip_rel_gap on a sum of their costs
    for (reuse, warm), history in histories.items():
        assert len(history) == len(plain)
        if not warm:
            for column in ("price", "row_value", "upper_bound", "feasible"):
                np.testing.assert_array_equal(history[column], plain[column], err_msg=f"{column}, reuse {reuse}")
        np.testing.assert_allclose(history["lower_bound"], plain["lower_bound"], rtol=0, atol=tolerance)
    lowest_upper = min(np.nanmin(h["upper_bound"]) for h in histories.values())
    assert max(h["lower_bound"].max() for h in histories.values()) <= lowest_upper + 1e-9

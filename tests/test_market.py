"""The energy-community market: buyers and sellers, the centralized NLP from several starts, and projected
aggregative tracking on the shipped cases.

Independent references: the report's own definitions of the sharing rule written in numpy (E_i, R and R_j directly,
not through the aggregates sigma), hand-written derivatives of those formulas, scipy's L-BFGS-B on them, and the
iteration of the reference written out in numpy.
"""

from __future__ import annotations

import json

import numpy as np
import pyomo.environ as pyo
import pytest
from scipy.optimize import minimize

from ecodec.cli import main
from ecodec.decomposition import OptionError, StoppingRules, options_for, run
from ecodec.decomposition.aggregative_tracking import AggregativeTracking
from ecodec.decomposition.driver import run_driver
from ecodec.errors import AgentError, CaseError
from ecodec.io.template import write_case_workbook
from ecodec.io.workbook import read_case
from ecodec.models import Buyer, Seller
from ecodec.models.base import TimeGrid
from ecodec.network import CommunicationNetwork, network_from_case
from ecodec.problem import AggregativeProblem, problem_from_case
from ecodec.results import compare, kpi
from ecodec.runtime.inprocess import InProcessRuntime
from ecodec.solvers.aggregative_functions import CompiledAggregativeAgent

CASES = {"base": "cases/community_market.xlsx", "demand": "cases/community_market_demand.xlsx",
         "storage": "cases/community_market_storage.xlsx"}

pytestmark = pytest.mark.xdist_group("market")  # one test process solves the shipped markets once (fixture solved)


def market_of(problem: AggregativeProblem) -> dict[str, np.ndarray]:
    """The parameters of a one-step market as arrays (buyers then sellers, in agent order)."""
    buyers = [a for a in problem.agents if a.kind == "buyer"]
    sellers = [a for a in problem.agents if a.kind == "seller"]

    def get(agents, field):
        return np.array([float(np.atleast_1d(getattr(a, field))[0]) for a in agents])

    return {"demand": get(buyers, "demand_kwh"), "c_b": get(buyers, "grid_export_price_per_kwh"),
            "c_s": get(buyers, "grid_import_price_per_kwh"), "eps_d": get(buyers, "weight_demand_per_kwh2"),
            "eps_b": get(buyers, "weight_price"), "excess": get(sellers, "excess_kwh"),
            "g_r": get(sellers, "weight_revenue"), "g_s": get(sellers, "weight_storage"),
            "sign": np.array([-1.0 if a.revenue_in_cost == "minus" else 1.0 for a in sellers])}


def report_costs(p: dict, c: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray, dict]:
    """Buyers' and sellers' costs by the report's definitions: E_i = Ehat(w) c_i / sum c, R = sum c_i E_i,
    R_j = R Ehat_j w_j / Ehat(w) (nothing sold: R_j = 0, its limit)."""
    sold = float(np.sum(p["excess"] * w))
    energy = sold * c / np.sum(c)
    paid = float(np.sum(c * energy))
    revenue = paid * p["excess"] * w / sold if sold > 0 else np.zeros_like(w)
    buyers = p["eps_d"] * (energy - p["demand"]) ** 2 + p["eps_b"] * energy * (c - p["c_s"])
    sellers = p["sign"] * p["g_r"] * revenue - p["g_s"] * np.log(1 + p["excess"] * (1 - w))
    return buyers, sellers, {"energy": energy, "revenue": revenue, "paid": paid, "sold": sold}


def hand_local(p: dict, n_buyers: int):
    """Per agent k: grad_1 f_k(x, s), grad_2 f_k(x, s), phi_k(x) and grad phi_k(x)' y, derived by hand from
    E_i = s3 c_i / s1 and R_j = s2 Ehat_j w_j / s1 (one step, scalar decisions)."""
    def buyer(i):
        eps_d, eps_b, c_s, demand = p["eps_d"][i], p["eps_b"][i], p["c_s"][i], p["demand"][i]

        def grads(c, s):
            energy = s[2] * c / s[0]
            d_energy = 2 * eps_d * (energy - demand) + eps_b * (c - c_s)
            g1 = 2 * eps_d * (energy - demand) * s[2] / s[0] + eps_b * (s[2] / s[0] * (c - c_s) + energy)
            return g1, d_energy * np.array([-energy / s[0], 0.0, c / s[0]])
        return grads, (lambda c: np.array([c, c * c, 0.0])), (lambda c, y: y[0] + 2 * c * y[1])

    def seller(j):
        g_r, g_s, excess, sign = p["g_r"][j], p["g_s"][j], p["excess"][j], p["sign"][j]

        def grads(w, s):
            g1 = sign * g_r * s[1] / s[0] * excess + g_s * excess / (1 + excess * (1 - w))
            return g1, sign * g_r * excess * w * np.array([-s[1] / s[0] ** 2, 1 / s[0], 0.0])
        return grads, (lambda w: np.array([0.0, 0.0, excess * w])), (lambda w, y: excess * y[2])

    return [buyer(i) for i in range(n_buyers)] + [seller(j) for j in range(len(p["excess"]))]


@pytest.fixture(scope="session")  # once per test process, even when modules interleave
def solved():
    """Every shipped market case solved centrally and by aggregative tracking with the workbook's options."""
    out = {}
    for name, path in CASES.items():
        case = read_case(path)
        problem, network = problem_from_case(case), network_from_case(case)
        reference = run(problem, network, "centralized", options_for("centralized", case.driver_options["centralized"]))
        tracking = run(problem, network, "aggregative-tracking",
                       options_for("aggregative-tracking", case.driver_options["aggregative-tracking"]),
                       StoppingRules.from_mapping(case.driver_options["stopping"]), reference=reference)
        out[name] = (problem, reference, tracking, compare([tracking], reference))
    return out


def test_centralized_model_is_the_report_formula():
    problem = problem_from_case(read_case(CASES["storage"]))
    p = market_of(problem)
    built = problem.centralized_model()
    rng = np.random.default_rng(4)
    c = p["c_b"] + (p["c_s"] - p["c_b"]) * rng.random(4)
    w = rng.random(4)
    for k, agent in enumerate(problem.agents):
        block = built.block(agent.name)
        (block.bid if agent.kind == "buyer" else block.fraction_sold)[0].set_value(float(c[k] if k < 4 else w[k - 4]))
    problem.set_aggregates(built)  # sigma at the mean of the shares, as the rows m.aggregate require
    assert max(abs(float(row.body())) for row in built.model.aggregate.values()) < 1e-15
    buyers, sellers, terms = report_costs(p, c, w)
    outputs, costs = built.outputs_and_costs(problem)
    assert [cost for *_, cost in costs] == pytest.approx(np.concatenate([buyers, sellers]), rel=1e-12)
    assert float(built.model.objective.expr()) == pytest.approx(buyers.sum() + sellers.sum(), rel=1e-12)
    energy = np.array([outputs[f"buyer_{i + 1}"][2][1, 0] for i in range(4)])
    revenue = np.array([outputs[f"seller_{j + 5}"][2][2, 0] for j in range(4)])
    assert energy == pytest.approx(terms["energy"], rel=1e-12)
    assert energy.sum() == pytest.approx(terms["sold"], rel=1e-12)  # every kWh sold is received
    assert revenue.sum() == pytest.approx(terms["paid"], rel=1e-12)  # every euro paid is received


def test_the_sign_of_the_revenue_term_is_explicit():
    sigma = {"total_bid": [0.3], "bid_squares": [0.05], "energy_sold": [2.0]}
    costs = {}
    for sign in ("minus", "plus"):
        block = pyo.ConcreteModel()
        terms = Seller("s", excess_kwh=4.0, weight_revenue=0.5, weight_storage=1.0, revenue_in_cost=sign).build(
            block, TimeGrid(1, 1.0), sigma)
        block.fraction_sold[0].set_value(0.25)
        costs[sign] = pyo.value(terms.cost)
    revenue = 0.05 / 0.3 * 4.0 * 0.25  # R_j = sigma_2 Ehat_j w_j / sigma_1
    assert costs["plus"] - costs["minus"] == pytest.approx(2 * 0.5 * revenue, rel=1e-12)
    with pytest.raises(AgentError) as refused:
        Seller("s", excess_kwh=4.0, revenue_in_cost="maybe")
    assert str(refused.value) == ("agent 's' (seller): column 'revenue_in_cost': got 'maybe'; expected one of "
                                  "'minus', 'plus'")


def test_compiled_local_functions_equal_the_hand_derivatives():
    problem = problem_from_case(read_case(CASES["base"]))
    p = market_of(problem)
    hand = hand_local(p, 4)
    rng = np.random.default_rng(7)
    for k, agent in enumerate(problem.agents):
        functions = CompiledAggregativeAgent(problem, agent.name)
        x = functions.lower + (functions.upper - functions.lower) * rng.random(1)
        s = np.array([0.1, 0.02, 3.0]) * (1 + rng.random(3))
        y = rng.normal(size=3)
        grads, phi, phi_t = hand[k]
        g1, g2 = functions.gradients(x, s)
        assert g1 == pytest.approx([grads(x[0], s)[0]], rel=1e-10)
        assert g2 == pytest.approx(grads(x[0], s)[1], rel=1e-10, abs=1e-14)
        assert functions.shares(x) == pytest.approx(phi(x[0]), rel=1e-12)
        assert functions.shares_transpose_times(x, y) == pytest.approx([phi_t(x[0], y)], rel=1e-12)


@pytest.mark.slow
def test_centralized_optimum_agrees_with_scipy_on_the_report_formula(solved):
    for name, (problem, reference, _, _) in solved.items():
        p = market_of(problem)
        assert reference.info["starts_agree"] and reference.info["starts_optimal"] == 5, name

        def total(z):
            buyers, sellers, _ = report_costs(p, z[:4], z[4:])
            return buyers.sum() + sellers.sum()

        bounds = list(zip(np.concatenate([p["c_b"], np.zeros(4)]), np.concatenate([p["c_s"], np.ones(4)])))
        rng = np.random.default_rng(0)
        best = min((minimize(total, np.array([lo + (hi - lo) * rng.random() for lo, hi in bounds]), method="L-BFGS-B",
                             bounds=bounds, options={"ftol": 1e-15, "gtol": 1e-11, "maxiter": 20000})
                    for _ in range(8)), key=lambda r: r.fun)
        assert reference.objective == pytest.approx(best.fun, rel=1e-9), name
        ecodec_x = np.array([reference.dispatch.query(f"agent == '{a.name}' and quantity in ['bid', 'fraction_sold']")
                             ["value"].iloc[0] for a in problem.agents])
        assert np.linalg.norm(ecodec_x - best.x) / np.linalg.norm(best.x) < 1e-5, name


@pytest.mark.slow
@pytest.mark.parametrize("name", list(CASES))
def test_aggregative_tracking_reaches_the_centralized_decisions(solved, name):
    problem, reference, tracking, comparison = solved[name]
    row = comparison.rows[1]
    assert tracking.status == "converged", tracking.info["message"]
    assert row["distance"] < 1e-4  # the acceptance: relative distance of the decisions (bids, fractions sold)
    assert row["cost_gap"] < 1e-8
    assert tracking.info["decision_quantities"] == ["bid", "fraction_sold"]
    history = tracking.history
    assert history["tracking_error_sigma"].iloc[-1] <= 1e-10 < history["tracking_error_sigma"].iloc[0]
    # every message is one (s, y) pair along an edge: 28 edges both ways per iteration and per warm-up round
    assert tracking.info["messages"] == 56 * (len(history) + tracking.info["consensus_rounds"])
    market = kpi.market_summary(tracking.dispatch).set_index("agent")
    assert market.loc[[a.name for a in problem.agents if a.kind == "buyer"], "energy_received"].sum() == \
        pytest.approx(market["energy_sold"].sum(), rel=1e-12)


@pytest.mark.slow
def test_scenarios_have_the_intended_effect(solved):
    for method in (1, 2):  # the centralized optimum and the aggregative-tracking result
        summary = {name: kpi.market_summary(runs[method].dispatch).set_index("agent") for name, runs in solved.items()}
        shortfall = {name: abs(s.at["buyer_2", "shortfall"]) for name, s in summary.items()}
        assert shortfall["demand"] < 0.5 * shortfall["base"]  # buyer 2 gets much closer to its demand
        for seller in ("seller_5", "seller_6"):
            assert summary["storage"].at[seller, "fraction_sold"] < 0.5 * summary["base"].at[seller, "fraction_sold"]
        for seller in ("seller_7", "seller_8"):  # the others sell more to make up for it
            assert summary["storage"].at[seller, "fraction_sold"] > summary["base"].at[seller, "fraction_sold"]


def test_three_iterations_equal_the_reference_iteration_written_out():
    problem = problem_from_case(read_case(CASES["demand"]))
    p = market_of(problem)
    names = [a.name for a in problem.agents]
    network = CommunicationNetwork.named("complete", names)
    gamma = 1e-3
    driver = AggregativeTracking(problem, InProcessRuntime(network), options_for("aggregative-tracking",
                                                                                 {"step_size": gamma}))
    run_driver(driver, StoppingRules(max_iterations=3))
    hand = hand_local(p, 4)
    x = np.concatenate([(p["c_b"] + p["c_s"]) / 2, np.full(4, 0.5)])
    a = np.full((8, 8), 1 / 8)  # Metropolis weights of the complete graph on 8 agents: 1 / (1 + 7) everywhere
    s = np.array([phi(x[k]) for k, (_, phi, _) in enumerate(hand)])
    s = a @ s  # one averaging round: the complete graph's diameter
    y = np.array([grads(x[k], s[k])[1] for k, (grads, _, _) in enumerate(hand)])
    low, high = np.concatenate([p["c_b"], np.zeros(4)]), np.concatenate([p["c_s"], np.ones(4)])
    for _ in range(3):
        x_new = np.array([np.clip(x[k] - gamma * (grads(x[k], s[k])[0] + phi_t(x[k], y[k])), low[k], high[k])
                          for k, (grads, _, phi_t) in enumerate(hand)])
        s_new = a @ s + np.array([phi(x_new[k]) - phi(x[k]) for k, (_, phi, _) in enumerate(hand)])
        y = a @ y + np.array([grads(x_new[k], s_new[k])[1] - grads(x[k], s[k])[1] for k, (grads, _, _) in
                              enumerate(hand)])
        x, s = x_new, s_new
    for k, name in enumerate(names):
        agent = driver.local[name]
        assert agent.x == pytest.approx([x[k]], rel=1e-12)
        assert agent.s == pytest.approx(s[k], rel=1e-11)
        assert agent.y == pytest.approx(y[k], rel=1e-9, abs=1e-12)
    # the tracking invariants: mean s is sigma(x), mean y the mean aggregate gradient at (x_j, s_j)
    sigma = np.mean([driver.subproblems[n].shares(driver.local[n].x) for n in names], axis=0)
    assert np.mean([driver.local[n].s for n in names], axis=0) == pytest.approx(sigma, rel=1e-13)
    mean_gradient = np.mean([driver.subproblems[n].gradients(driver.local[n].x, driver.local[n].s)[1] for n in names],
                            axis=0)
    assert np.mean([driver.local[n].y for n in names], axis=0) == pytest.approx(mean_gradient, rel=1e-11)


def test_a_step_too_large_is_not_mistaken_for_convergence():
    """With step 3e-3 the demand case's iterates park every seller at w = 0 at iteration 910: decisions and
    aggregate estimates stand still while the gradient estimates y are still wrong (they move on later).  That
    is not convergence."""
    case = read_case(CASES["demand"])
    problem, network = problem_from_case(case), network_from_case(case)
    result = run(problem, network, "aggregative-tracking", options_for("aggregative-tracking", {"step_size": 3e-3}),
                 StoppingRules(max_iterations=1200))
    assert result.status == "iteration_limit"
    still = result.history[result.history["rel_step"] <= 1e-10]
    assert len(still) and (still["tracking_error_gradient"] > 1e-3).all()  # the parked iterates the rule refuses


def test_options_and_methods_that_do_not_fit_are_refused():
    for values, words in (({"step_size": 0}, "step_size"), ({"damping": 1.5}, "damping"),
                          ({"consensus_rounds": -1}, "consensus_rounds"), ({"step_tol": 2}, "step_tol")):
        with pytest.raises(OptionError, match=words):
            options_for("aggregative-tracking", values)
    case = read_case(CASES["base"])
    with pytest.raises(OptionError, match="market whose agents are coupled through aggregates"):
        run(problem_from_case(case), network_from_case(case), "primal-decomposition")
    microgrid = read_case("cases/microgrid_8.xlsx")
    with pytest.raises(OptionError, match="solves market cases"):
        run(problem_from_case(microgrid), network_from_case(microgrid), "aggregative-tracking")


def test_solve_refuses_highs_on_a_market_and_reports_the_starts(capsys):
    assert main(["solve", CASES["base"], "--solver", "highs"]) == 2
    assert "nonlinear program: use solver 'ipopt'" in capsys.readouterr().err
    assert main(["solve", CASES["base"]]) == 0
    out = capsys.readouterr().out
    assert "5 of 5 starts optimal and all agree" in out and "Ipopt" in out


def _market_tables(**changes) -> dict:
    tables = {"meta": [{"name": "m", "T": 1, "step_h": 1.0}], "timeseries": [{"t": 1}],
              "buyers": [{"name": "b1", "demand_kwh": 2.0, "grid_export_price_per_kwh": 0.1,
                          "grid_import_price_per_kwh": 0.3}],
              "sellers": [{"name": "s1", "excess_kwh": 3.0}]}
    for sheet, rows in changes.items():
        tables[sheet] = rows
    return tables


def test_bad_market_workbooks_name_sheet_row_column_and_what_was_expected(tmp_path):
    cases = {
        "excess": (_market_tables(sellers=[{"name": "s1", "excess_kwh": 0.0}]),
                   ["sellers", "row 2", "excess_kwh", "> 0"]),
        "prices": (_market_tables(buyers=[{"name": "b1", "demand_kwh": 2.0, "grid_export_price_per_kwh": 0.4,
                                           "grid_import_price_per_kwh": 0.3}]),
                   ["buyers", "row 2", "grid_export_price_per_kwh", "<= grid_import_price_per_kwh"]),
        "no seller": (_market_tables(sellers=[]), ["sellers", "at least one active seller"]),
        "mixed": (_market_tables(grid=[{"name": "g", "p_min_kw": -1, "p_max_kw": 1, "buy_price_per_kwh": 0.2,
                                        "sell_price_per_kwh": 0.1}]),
                  ["buyers", "row 2", "agents of one problem kind", "agent 'g' is of kind grid"]),
        "resources": (_market_tables(resources=[{"name": "active_power", "sense": "==", "rhs": 1.0, "unit": "kW"}]),
                      ["resources", "row 2", "no coupling resource rows in a market case"]),
    }
    for label, (tables, words) in cases.items():
        path = tmp_path / f"{label.replace(' ', '_')}.xlsx"
        write_case_workbook(path, tables)
        with pytest.raises(CaseError) as error:
            read_case(path)
        text = str(error.value)
        assert all(w in text for w in words), (label, text)
    write_case_workbook(tmp_path / "good.xlsx", _market_tables())
    assert isinstance(problem_from_case(read_case(tmp_path / "good.xlsx")), AggregativeProblem)


def test_a_market_agent_needs_a_positive_bid_range_and_excess():
    with pytest.raises(AgentError) as refused:
        Buyer("b", demand_kwh=1.0, grid_export_price_per_kwh=0.0, grid_import_price_per_kwh=0.3)
    assert str(refused.value) == ("agent 'b' (buyer): column 'grid_export_price_per_kwh': got 0; expected a number "
                                  "> 0 or the name of a 'timeseries' column whose values are all > 0")
    with pytest.raises(AgentError) as refused:
        Buyer("b", demand_kwh=1.0, grid_export_price_per_kwh=0.4, grid_import_price_per_kwh=0.3)
    assert str(refused.value) == ("agent 'b' (buyer): column 'grid_export_price_per_kwh': got 0.4; expected "
                                  "grid_export_price_per_kwh <= grid_import_price_per_kwh at every step")
    with pytest.raises(AgentError) as refused:
        Seller("s", excess_kwh=np.array([1.0, 0.0]))
    assert str(refused.value) == ("agent 's' (seller): column 'excess_kwh': got a profile with values from 0 to 1; "
                                  "expected a number > 0 or the name of a 'timeseries' column whose values are all "
                                  "> 0")


@pytest.mark.slow
def test_a_market_of_two_steps_is_two_independent_markets():
    """Each step is a market of its own: the optimum over two steps is the sum of the one-step optima, step by
    step the same decisions, and aggregative tracking reaches it on vectors of two entries per agent."""
    demand = np.array([[3.0, 1.0], [6.0, 2.5], [4.0, 4.0]])
    excess = np.array([[8.0, 2.0], [5.0, 6.0], [3.0, 1.5]])

    def market(steps):
        agents = [Buyer(f"b{i}", demand_kwh=demand[i, steps], grid_export_price_per_kwh=0.12,
                        grid_import_price_per_kwh=0.29, weight_demand_per_kwh2=0.02) for i in range(3)]
        agents += [Seller(f"s{j}", excess_kwh=excess[j, steps], weight_revenue=0.5) for j in range(3)]
        return AggregativeProblem(agents, TimeGrid(len(steps), 1.0), name="two")

    network = CommunicationNetwork.named("ring", [f"b{i}" for i in range(3)] + [f"s{j}" for j in range(3)])
    both = run(market([0, 1]), network, "centralized")
    alone = [run(market([t]), network, "centralized") for t in (0, 1)]
    assert both.objective == pytest.approx(alone[0].objective + alone[1].objective, rel=1e-9)
    for t in (0, 1):
        joint = both.dispatch[both.dispatch["t"] == t + 1].set_index(["agent", "quantity"])["value"]
        single = alone[t].dispatch.set_index(["agent", "quantity"])["value"]
        assert joint.loc[single.index].to_numpy() == pytest.approx(single.to_numpy(), rel=1e-6, abs=1e-9)
    tracking = run(market([0, 1]), network, "aggregative-tracking", options_for("aggregative-tracking", {
        "step_size": 1e-3}), StoppingRules(max_iterations=40000), reference=both)
    assert tracking.status == "converged" and compare([tracking], both).rows[1]["distance"] < 1e-4
    assert "x:b0:2" in tracking.history.columns and "sigma:energy_sold:2" in tracking.history.columns


def test_run_without_a_method_picks_aggregative_tracking_for_a_market(capsys):
    assert main(["run", CASES["base"], "--max-iterations", "50", "-q", "--json"]) == 0
    runs = json.loads(capsys.readouterr().out)
    assert list(runs) == ["centralized", "aggregative-tracking"]
    assert runs["aggregative-tracking"]["iterations"] == 50 and runs["aggregative-tracking"]["rel_violation"] == 0.0

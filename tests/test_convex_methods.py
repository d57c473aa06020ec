"""Tracking-ADMM and proximal dual decomposition: hand-computed iterates, the tracker's sum invariant, the
acceptance runs on the shipped LP microgrid and a 100-vehicle continuous fleet (fixed and time-varying graphs),
and the mixed-integer cases, where both run as heuristics and report what they reached.

Hand instance: two suppliers at 1 EUR/kWh (0..8 kW) and 2 EUR/kWh (0..10 kW) serve a load of 10 kW over one
1-hour step (optimum: the cheap one serves 8 kW, the dear one 2 kW, 12 EUR; the dear one is between its limits, so
the price is its 2 EUR/kWh and nothing else).  Lambda = 2 (the dear supplier's price per kW)
and S = 10, so Tracking-ADMM's c = penalty x 2 / 10 and proximal dual's c(k) = step_size x 0.2 / (k + 1)^0.6.
On two agents joined by one edge the Metropolis weights are 1/2 each: every consensus step is the exact mean.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import make_problem

from ecodec.cli import main
from ecodec.decomposition import StoppingRules, options_for, run
from ecodec.decomposition.coupling_rows import CouplingRows
from ecodec.decomposition.options import OptionError
from ecodec.decomposition.proximal_dual import ProximalDual, ProximalDualOptions
from ecodec.decomposition.tracking_admm import TrackingAdmm, TrackingAdmmOptions
from ecodec.io.workbook import read_case
from ecodec.models.grid import Grid
from ecodec.network import CommunicationNetwork, network_from_case
from ecodec.problem import problem_from_case
from ecodec.results import compare, kpi
from ecodec.runtime import InProcessRuntime
from ecodec.solvers.matrix import MatrixProblem


def _hand_pair():
    cheap = Grid(name="cheap", p_min_kw=0.0, p_max_kw=8.0, buy_price_per_kwh=1.0, sell_price_per_kwh=0.0)
    dear = Grid(name="dear", p_min_kw=0.0, p_max_kw=10.0, buy_price_per_kwh=2.0, sell_price_per_kwh=0.0)
    problem = make_problem([cheap, dear], 1.0, active_power=[10.0], reactive_power=[0.0])
    return problem, CommunicationNetwork.from_edges(["cheap", "dear"], [("cheap", "dear")])


def _supplied(driver) -> np.ndarray:
    """Each supplier's active power (its contribution to row 0) under the driver's current decisions."""
    return np.array([driver.subproblems[n].contribution(driver.decisions[n])[0, 0] for n in ("cheap", "dear")])


def _case(path: str):
    case = read_case(path)
    return problem_from_case(case), network_from_case(case)


def test_tracking_admm_iterates_equal_the_hand_computation():
    problem, network = _hand_pair()
    driver = TrackingAdmm(problem, InProcessRuntime(network), TrackingAdmmOptions(penalty=10.0))
    driver.setup()
    assert driver.c == pytest.approx(2.0)
    np.testing.assert_allclose(_supplied(driver), [0.0, 0.0], atol=1e-9)  # x^0 = argmin c_i x = 0
    # by hand (no limit binds in these steps): x^{k+1} = clip(x^k - s - (c_i + delta) / c, 0, max_i),
    # d = s + x^{k+1} - x^k, lambda = delta + c d,
    # delta and s the means of lambda and d; d^0 = x^0 - 5 = -5, lambda^0 = 0
    expected_x = [(4.5, 4.0), (5.5, 4.5), (5.75, 4.25)]
    expected_d = [(-0.5, -1.0), (0.25, -0.25), (0.25, -0.25)]
    expected_lambda = [(-1.0, -2.0), (-1.0, -2.0), (-1.0, -2.0)]
    for k in range(3):
        driver.iterate(k)
        np.testing.assert_allclose(_supplied(driver), expected_x[k], atol=1e-7)
        np.testing.assert_allclose([driver.local[n].d[0] for n in ("cheap", "dear")], expected_d[k], atol=1e-7)
        np.testing.assert_allclose([driver.local[n].lam[0] for n in ("cheap", "dear")], expected_lambda[k],
                                   atol=1e-6)
    # and in the long run the optimum, where every agent's multiplier is -2 (the price 2 EUR/kWh)
    for k in range(3, 200):
        driver.iterate(k)
    np.testing.assert_allclose(_supplied(driver), [8.0, 2.0], atol=1e-6)
    np.testing.assert_allclose([driver.local[n].lam[0] for n in ("cheap", "dear")], [-2.0, -2.0], atol=1e-6)
    result = run(problem, network, "tracking-admm", options_for("tracking-admm", {"penalty": 10}),
                 StoppingRules(max_iterations=200), reference=run(problem, network, "centralized"))
    assert result.status == "converged" and result.objective == pytest.approx(12.0, rel=1e-3)


def test_proximal_dual_iterates_equal_the_hand_computation():
    problem, network = _hand_pair()
    options = ProximalDualOptions(step_size=1.5, step_decay=0.6, average="running", average_from=0)
    driver = ProximalDual(problem, InProcessRuntime(network), options)
    driver.setup()
    c = [0.3 / (k + 1) ** 0.6 for k in range(4)]  # c0 = 1.5 x Lambda / S = 0.3
    lam = np.zeros(2)
    average, weights = np.zeros(2), 0.0
    for k in range(4):
        mean = lam.mean()  # l_i
        x = np.where(np.array([1.0, 2.0]) + mean < 0, [8.0, 10.0], 0.0)  # argmin (c_i + l_i) x over [0, max_i]
        lam = mean + c[k] * (x - 5.0)  # equality row: no projection
        weights += c[k]
        average = x if k == 0 else average + c[k] / weights * (x - average)
        driver.iterate(k)
        np.testing.assert_allclose([driver.local[n].lam[0] for n in ("cheap", "dear")], lam, rtol=1e-12)
        np.testing.assert_allclose(_supplied(driver), average, atol=1e-9)  # the decisions are the average
    assert driver.local["cheap"].x is not None


def test_the_doubling_average_reports_the_c_weighted_average_since_the_window_before_last():
    """K0 = 2: windows start at iterations 2, 4, 8 (0-based); at k in [8, 16) the decisions are the c-weighted
    average of the iterates x(4) .. x(k), recomputed here from the recorded iterates."""
    problem, network = _hand_pair()
    options = ProximalDualOptions(step_size=1.5, average="doubling", average_from=2)
    driver = ProximalDual(problem, InProcessRuntime(network), options)
    driver.setup()
    c = [driver.c0 / (k + 1) ** options.step_decay for k in range(11)]
    iterates = []
    for k in range(11):
        driver.iterate(k)
        iterates.append(_supplied_x(driver))
        first = 0 if k < 4 else (2 if k < 8 else 4)  # the window before the current one (from 0 before K0 2)
        weights = np.array(c[first:k + 1])
        expected = weights @ np.array(iterates[first:k + 1]) / weights.sum()
        np.testing.assert_allclose(_supplied(driver), expected, rtol=1e-12, atol=1e-12, err_msg=f"iteration {k}")
    assert len({tuple(x) for x in iterates}) > 1  # the iterates moved, so the windows make a difference


def _supplied_x(driver) -> np.ndarray:
    """Each supplier's active power at its last iterate (not the average)."""
    return np.array([driver.subproblems[n].contribution(driver.local[n].x)[0, 0] for n in ("cheap", "dear")])


def _tracker_sum_and_violation(driver) -> tuple[np.ndarray, np.ndarray]:
    """sum_i d_i, and the coupling violation sum_i A_i z_i - b computed from the contributions (not from d)."""
    rows = driver.rows
    inequality = np.flatnonzero(~rows.equality)
    tracked = sum(driver.local[n].d for n in driver.local)
    values = np.zeros(rows.size)
    for name, agent in driver.local.items():
        sub = agent.sub
        values += rows.values(sub.contribution(agent.z))
        values[inequality] += agent.z[agent.slack]
    return tracked, values - rows.total


@pytest.mark.parametrize(("path", "options"), [
    ("cases/microgrid_8.xlsx", {}),
    ("cases/microgrid_8.xlsx", {"graph": "random", "edge_probability": 0.5, "graph_seed": 3}),
    ("cases/microgrid_8_milp.xlsx", {"recovery_iteration": 4}),
])
def test_the_tracker_sum_equals_the_current_violation_at_every_iteration(path, options):
    problem, network = _case(path)
    driver = TrackingAdmm(problem, InProcessRuntime(network), options_for("tracking-admm", options))
    driver.setup()
    scale = np.max(np.abs(driver.rows.total))
    tracked, violation = _tracker_sum_and_violation(driver)
    assert np.max(np.abs(tracked - violation)) <= 1e-9 * scale
    for k in range(10):
        driver.iterate(k)
        tracked, violation = _tracker_sum_and_violation(driver)
        assert np.max(np.abs(tracked - violation)) <= 1e-9 * scale, f"iteration {k + 1}"
        assert np.max(np.abs(violation)) > 1e-6 * scale  # not trivially zero: the run is still far from feasible
    if "recovery_iteration" in options:
        assert driver.fixed  # the recovery happened in between, and the invariant survived it


def test_the_qp_term_is_set_once_and_only_costs_change_per_iteration(monkeypatch):
    problem, network = _case("cases/microgrid_8.xlsx")
    calls = []
    original = MatrixProblem.set_hessian
    monkeypatch.setattr(MatrixProblem, "set_hessian",
                        lambda self, q, solver="piqp": (calls.append(self.name), original(self, q, solver)))
    driver = TrackingAdmm(problem, InProcessRuntime(network), TrackingAdmmOptions())
    driver.setup()
    programs = {n: id(driver.subproblems[n].program) for n in driver.subproblems}
    for k in range(5):
        driver.iterate(k)
    assert len(calls) == len(problem.agents)  # one Hessian per agent, at set-up
    assert programs == {n: id(driver.subproblems[n].program) for n in driver.subproblems}
    assert all(driver.subproblems[n].program.is_quadratic for n in driver.subproblems
               if np.any(driver.local[n].a.data))


@pytest.mark.parametrize(("method", "key", "value", "expected"), [
    ("tracking-admm", "penalty", 0, "a number > 0"),
    ("tracking-admm", "penalty", -1, "a number > 0"),
    ("proximal-dual", "step_size", 0, "a number > 0"),
    ("proximal-dual", "step_decay", 0.5, "(0.5, 1]"),
    ("tracking-admm", "graph", "sometimes", "one of 'fixed', 'random', 'periodic'"),
    ("proximal-dual", "edge_probability", 0, "(0, 1]"),
    ("proximal-dual", "graph_period", 1, "a whole number >= 2"),
])
def test_bad_options_are_refused_with_the_option_value_and_what_was_expected(method, key, value, expected):
    with pytest.raises(OptionError) as error:
        options_for(method, {key: value})
    assert key in str(error.value) and repr(value) in str(error.value) and expected in str(error.value)


@pytest.fixture(scope="session")  # once per test process, even when modules interleave
def fleet_lp(tmp_path_factory):
    """A 100-vehicle continuous fleet of the PEV benchmark (variant A, seed 0)."""
    path = tmp_path_factory.mktemp("fleet") / "pev_100_lp.xlsx"
    assert main(["generate", "pev", "--n", "100", "--variant", "lp", "-o", str(path)]) == 0
    return path


ACCEPTANCE = [("tracking-admm", {}, 1e-3), ("proximal-dual", {}, 1e-2),
              ("tracking-admm", {"graph": "random", "edge_probability": 0.5}, 1e-2),
              ("proximal-dual", {"graph": "random", "edge_probability": 0.5}, 1e-2)]


@pytest.fixture(scope="session")  # once per test process, even when modules interleave
def acceptance_case(fleet_lp):
    """Each acceptance case read and solved centrally once, for the four runs on it: (problem, network, reference)."""
    solved = {}

    def get(which: str):
        if which not in solved:
            path = {"microgrid_8": "cases/microgrid_8.xlsx", "household_3": "cases/household_3.xlsx"}
            problem, network = _case(path.get(which, str(fleet_lp)))
            solved[which] = problem, network, run(problem, network, "centralized")
        return solved[which]
    return get


@pytest.mark.slow
@pytest.mark.parametrize(("method", "options", "tol"), ACCEPTANCE)
@pytest.mark.parametrize("which", ["microgrid_8", "pev_100_lp"])
def test_acceptance_cost_gap_and_violation_within_the_tolerance(which, method, options, tol, acceptance_case):
    problem, network, reference = acceptance_case(which)
    result = run(problem, network, method, options_for(method, options),
                 StoppingRules(max_iterations=20000, violation_tol=tol, cost_gap_tol=tol), reference=reference)
    assert result.status == "converged", result.info["message"]
    # the result's own numbers, recomputed from its decisions, not from the history
    assert kpi.relative_cost_gap(result.objective, reference.objective) <= tol
    assert kpi.relative_coupling_violation(result.coupling) <= tol
    if options:
        active = result.history["active_edges"].to_numpy() / network.n_edges
        assert 0.4 < active.mean() < 0.6 and active.min() < 1.0  # about half the edges at each iteration


@pytest.mark.slow
@pytest.mark.parametrize("which", ["microgrid_8", "pev_100_lp", "household_3"])
def test_primal_decomposition_with_default_options_reaches_one_and_a_tenth_of_a_percent(which, acceptance_case):
    """Issue 17's targets for primal decomposition's defaults (the augmented allocation update): 1% cost gap and
    relative violation within 1000 iterations and 0.1% within 10000; on the microgrid every iterate after the
    first 1% crossing stays within 1% (measured: 1% from iteration 203 on, 0.1% first at 617; the published
    subgradient step needs 1451 iterations for 1% and never reaches 0.1%)."""
    problem, network, reference = acceptance_case(which)
    result = run(problem, network, "primal-decomposition", stopping=StoppingRules(max_iterations=10000),
                 reference=reference)
    assert result.status == "converged", result.info["message"]
    assert kpi.relative_cost_gap(result.objective, reference.objective) <= 1e-3
    assert kpi.relative_coupling_violation(result.coupling) <= 1e-3
    first = kpi.first_iteration_to(result.history, 1e-2)
    assert first is not None and first <= 1000
    if which == "microgrid_8":
        assert kpi.iterations_to(result.history, 1e-2) == first  # never back above 1% after the first crossing


@pytest.mark.slow
def test_on_mixed_integer_cases_both_run_as_heuristics_and_report_gap_and_violation_honestly():
    problem, network = _case("cases/microgrid_8_milp.xlsx")
    reference = run(problem, network, "centralized")
    for method, options in (("tracking-admm", {"recovery_iteration": 100}), ("proximal-dual", {})):
        result = run(problem, network, method, options_for(method, options), StoppingRules(max_iterations=200),
                     reference=reference)
        on = result.dispatch[result.dispatch["quantity"] == "on"]["value"].to_numpy()
        assert on.size and np.allclose(on, np.round(on), atol=1e-6)  # every commitment is 0 or 1
        last = result.history.iloc[-1]
        if last["rel_violation"] <= 1e-6:  # a feasible mixed-integer point costs at least HiGHS's bound
            assert result.objective >= reference.info["objective_bound"] - 1e-6
        if method == "tracking-admm":  # measured: gap 0.5%, violation 1.8% after 100 relaxed and 100 fixed steps
            assert last["cost_gap"] < 0.02 and last["rel_violation"] < 0.05
        else:  # the last iterate of a linear Lagrangian jumps between vertices: far from feasible, and it says so
            assert last["rel_violation"] > 0.1 and result.status == "iteration_limit"
        assert last["cost_gap"] == pytest.approx(kpi.relative_cost_gap(result.objective, reference.objective))
        assert last["rel_violation"] == pytest.approx(kpi.relative_coupling_violation(result.coupling), rel=1e-6,
                                                      abs=1e-12)
        # the comparison gives no "gap to bound" to a cost bought with violated coupling; the reference keeps its own
        rows = {row["method"]: row for row in compare([result], reference).rows}
        assert rows[method]["gap_to_bound"] is None and rows["centralized"]["gap_to_bound"] is not None


def test_coupling_rows_give_each_inequality_row_one_slack():
    problem, network = _case("cases/microgrid_8.xlsx")
    rows = CouplingRows.from_problem(problem)
    driver = TrackingAdmm(problem, InProcessRuntime(network), TrackingAdmmOptions())
    driver.setup()
    agent = driver.local["boiler"]
    assert agent.slack.size == int(np.sum(~rows.equality))
    np.testing.assert_allclose(agent.share, rows.total / len(problem.agents))

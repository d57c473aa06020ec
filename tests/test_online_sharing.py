"""Online energy sharing under bandit feedback (docs/online_sharing.md): the problem, the comparator, the pieces of
DRS, MA-NSDRS and BanSaP, each against an independent reference.

* the hand instance (also the method contract's tiny online case): node a generates 3 kW and needs 1 kW, node b
  generates nothing and needs 3 kW, one edge, xbar = 3 kW.  Each node's shortfall is seen by both nodes
  (|N_j+| = 2), so the loss of a round is 2 q_a / 1 + 2 q_b / 3 with q_a + q_b >= 4 - 3 = 1: a kW short at a costs
  2, at b 2/3, so a serves itself fully and sends the other 2 kW to b: q_b = 1, loss 2/3 per round;
* the one-point estimator against the gradient of a quadratic (for which the smoothed gradient is the gradient);
* the Hedge weights against the formulas computed by hand in the test.
"""

from __future__ import annotations

import math

import numpy as np
import pyomo.environ as pyo
import pytest

from ecodec.decomposition import StoppingRules, options_for, run
from ecodec.decomposition.bandit_sharing import (one_point_gradient, proportional_adjustment, shrunk_box_projection,
                                                 unit_sphere)
from ecodec.decomposition.ma_nsdrs import MaNsdrsNode, MaNsdrsOptions, nonuniform_prior, pool_size
from ecodec.decomposition.registry import REGISTRY
from ecodec.io.workbook import read_case
from ecodec.models import Prosumer, TimeGrid
from ecodec.network import CommunicationNetwork
from ecodec.problem import OnlineSharingProblem, problem_from_case
from ecodec.runtime import InProcessRuntime
from ecodec.solvers.highs import solve_with_highs
from ecodec.solvers.sharing_comparator import comparator_sequence

ONLINE = ("drs", "drs-na", "ma-nsdrs", "ma-nsdrs-na", "bansap")


def hand_instance(T: int = 2) -> OnlineSharingProblem:
    nodes = [Prosumer("a", generation_kw=3.0, generation_noise=0.0, capacity_kw=3.0, demand_kw=1.0),
             Prosumer("b", generation_kw=0.0, generation_noise=0.0, capacity_kw=3.0, demand_kw=3.0)]
    return OnlineSharingProblem(nodes, CommunicationNetwork.from_edges(["a", "b"], [("a", "b")]), TimeGrid(T, 1.0),
                                name="tiny-sharing")


def test_the_comparator_of_the_hand_instance_is_the_hand_optimum():
    problem = hand_instance()
    sequence = comparator_sequence(problem, problem.environment(0))
    assert sequence.losses == pytest.approx([2 / 3, 2 / 3], abs=1e-9)
    # arcs a->a, a->b, b->a, b->b: a keeps 1 kW and sends 2 kW
    assert sequence.allocations[0] == pytest.approx([1.0, 2.0, 0.0, 0.0], abs=1e-9)
    x = sequence.allocations[0]
    assert problem.node_losses(x, problem.environment(0), 0) == pytest.approx([1 / 3, 1 / 3])
    result = run(problem, problem.network, "centralized")
    assert result.objective == pytest.approx(4 / 3) and result.info["path_length"] == pytest.approx(0.0, abs=1e-9)


def test_the_per_round_comparator_equals_the_pyomo_model_built_from_each_node():
    """Two formulations of the same LP: the matrices re-solved round by round, and the Pyomo model of every round
    at once built by each node's own ``build``."""
    problem = problem_from_case(read_case("cases/der_sharing_6.xlsx"))
    env = problem.environment(3)
    outcome = solve_with_highs(problem.centralized_model(env).model)
    assert comparator_sequence(problem, env).losses.sum() == pytest.approx(outcome.objective, rel=1e-7)


def test_the_environment_is_seeded_capped_and_balanced():
    problem = problem_from_case(read_case("cases/der_sharing_6.xlsx"))
    a, b, c = problem.environment(0), problem.environment(0), problem.environment(1)
    assert np.array_equal(a.generation_kw, b.generation_kw) and not np.array_equal(a.generation_kw, c.generation_kw)
    assert np.all(a.generation_kw >= 0) and np.all(a.generation_kw <= problem.capacity_kw[:, None])
    assert a.demand_kw.sum(axis=0) == pytest.approx(a.generation_kw.sum(axis=0))  # total demand = total generation
    assert np.allclose(a.demand_kw, a.demand_kw[0])  # split equally


def test_the_one_point_estimate_is_unbiased_for_a_quadratic():
    """E[(n / delta) f(x + delta u) u] = grad fhat(x) = A x + b for f = x'Ax/2 + b'x (smoothing a quadratic adds
    a constant); the tolerance is 5 standard errors of the Monte Carlo mean."""
    rng = np.random.default_rng(7)
    a_matrix = np.array([[2.0, 0.5, 0.0], [0.5, 1.0, 0.3], [0.0, 0.3, 3.0]])
    b, x, delta, samples = np.array([1.0, -2.0, 0.5]), np.array([0.3, 0.7, -0.2]), 0.4, 200_000
    z = rng.standard_normal((samples, 3))
    u = z / np.linalg.norm(z, axis=1, keepdims=True)
    points = x + delta * u
    f = 0.5 * np.einsum("si,ij,sj->s", points, a_matrix, points) + points @ b
    estimates = np.array([one_point_gradient(fs, us, delta) for fs, us in zip(f[:1000], u[:1000])])
    assert estimates == pytest.approx((3 / delta) * f[:1000, None] * u[:1000])  # the function is that formula
    all_estimates = (3 / delta) * f[:, None] * u
    error = all_estimates.std(axis=0) / math.sqrt(samples)
    assert np.all(np.abs(all_estimates.mean(axis=0) - (a_matrix @ x + b)) <= 5 * error)


def test_a_point_of_the_shrunk_box_played_with_its_smoothing_stays_in_the_box():
    rng = np.random.default_rng(3)
    for _ in range(2000):
        n, cap = int(rng.integers(1, 8)), float(rng.uniform(0.1, 100.0))
        delta = float(rng.uniform(1e-6, cap / 4))
        y = shrunk_box_projection(rng.normal(cap / 2, cap, n), cap, delta / (cap / 2))
        played = y + delta * unit_sphere(rng, n)
        assert np.all(played >= -1e-12) and np.all(played <= cap + 1e-12)


def test_the_adjustment_meets_the_hard_constraint_and_moves_by_exactly_the_violation():
    rng = np.random.default_rng(5)
    for _ in range(2000):
        x, d = rng.uniform(0.0, 5.0, int(rng.integers(1, 6))), float(rng.uniform(0.0, 10.0))
        adjusted = proportional_adjustment(x, d)
        assert adjusted.sum() <= d + 1e-12 and np.all(adjusted >= 0)
        assert np.abs(x - adjusted).sum() == pytest.approx(max(0.0, x.sum() - d), abs=1e-12)


@pytest.mark.parametrize("method", ONLINE)
def test_every_played_point_is_in_the_box_and_adjusted_runs_never_violate(method):
    problem = problem_from_case(read_case("cases/der_sharing_6.xlsx"))
    spec = REGISTRY[method]
    driver = spec.driver(problem, InProcessRuntime(problem.network), spec.make_options({"seed": 2}))
    driver.setup()
    for k in range(200):
        driver.iterate(k)
        for node in driver.local.values():
            assert np.all(node.played >= -1e-9) and np.all(node.played <= node.cap * (1 + 1e-12))
            if driver.options.adjustment:
                assert node.executed.sum() <= node.generation[k] * (1 + 1e-12) + 1e-9
    if driver.options.adjustment:
        assert all(np.all(node.record[7, :200] == 0.0) for node in driver.local.values())


def test_the_pool_and_the_prior_of_ma_nsdrs():
    assert (pool_size(1000), pool_size(8760)) == (6, 7)  # PyNOL's K for these horizons
    assert nonuniform_prior(6).sum() == pytest.approx(1.0)
    problem = hand_instance(T=720)
    node = MaNsdrsNode("a", problem, problem.environment(0), MaNsdrsOptions())
    eta_min = node.R * math.sqrt(7 * node.R ** 2) / (math.sqrt(node.n) * node.C * 720 ** 0.75)
    eta_max = node.R * math.sqrt(7 * node.R ** 2 + 2 * node.R ** 2 * 720) / (math.sqrt(node.n) * node.C * 720 ** 0.75)
    assert node.etas[0] == pytest.approx(eta_min) and node.etas[-1] >= eta_max > node.etas[-2]  # doubling to eta_max


def test_the_hedge_weights_of_ma_nsdrs_follow_the_hand_computation_for_three_rounds():
    problem = hand_instance(T=50)
    env = problem.environment(0)
    node = MaNsdrsNode("a", problem, env, MaNsdrsOptions(seed=4))
    K = node.K
    w = np.array([(K + 1) / (K * k * (k + 1)) for k in range(1, K + 1)])  # the non-uniform prior
    experts, lam = node.experts.copy(), 0.0
    for t, loss in enumerate((0.7, 0.2, 1.1)):
        played = node.decide(t)
        y = sum(w[k] * experts[k] for k in range(K))
        assert played == pytest.approx(y + node.delta * node.u)
        node.update(t, loss, float(played.sum()) - env.generation_kw[0, t])
        grad = (node.n / node.delta) * loss * node.u + lam
        rate = 2.0 / (node.G * node.D * math.sqrt(t + 1))
        meta = [float(grad @ (experts[k] - y)) for k in range(K)]
        w = np.array([w[k] * math.exp(-rate * meta[k]) for k in range(K)])
        w /= w.sum()
        experts = np.array([np.clip(experts[k] - node.etas[k] * grad, node.cap / 2 - (1 - node.xi) * node.cap / 2,
                                    node.cap / 2 + (1 - node.xi) * node.cap / 2) for k in range(K)])
        beta = node.C / node.cap ** 2 * (t + 1) ** -0.25
        theta = node.cap ** 2 / node.C * (t + 1) ** -0.25
        lam = max(0.0, lam + beta * (float(y.sum()) - env.generation_kw[0, t] - theta * lam))
        assert node.weights == pytest.approx(w, rel=1e-12) and node.lam == pytest.approx(lam, rel=1e-12)


def test_drs_with_the_true_gradient_reaches_the_static_optimum_of_a_stationary_instance():
    """Constant generation and demand: every round has the comparator of the hand instance (2/3).  DRS fed the true
    subgradient instead of the bandit estimate, without the regularizer (whose bias theta_t lambda on the
    constraint fades only as t^-1/4), is a projected primal-dual subgradient method: its iterates oscillate around
    the saddle point and their average over the last 500 of 5000 rounds is within 3% of the optimum, sending on
    average at most 0.05 kW (1.7% of a's generation) more than a generates."""
    problem = hand_instance(T=5000)
    result = run(problem, problem.network, "drs", options_for("drs", {"gradient": "full", "adjustment": False,
                                                                      "regularizer": 0.0}),
                 StoppingRules(max_iterations=5000))
    last = result.history.tail(500)
    assert last["objective"].mean() == pytest.approx(2 / 3, rel=3e-2)
    assert last["violation"].mean() <= 0.05


def test_the_shipped_online_cases_come_from_their_data():
    """Rebuilding the cases from data/ with scripts/build_sharing_cases.py gives the shipped workbooks' numbers."""
    import subprocess
    import sys
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as out:
        subprocess.run([sys.executable, "scripts/build_sharing_cases.py", out], check=True, capture_output=True)
        for name in ("der_sharing_6", "der_sharing_20"):
            rebuilt, shipped = read_case(Path(out) / f"{name}.xlsx"), read_case(f"cases/{name}.xlsx")
            assert rebuilt.edges == shipped.edges and rebuilt.profiles.keys() == shipped.profiles.keys()
            assert all(np.array_equal(rebuilt.profiles[k], shipped.profiles[k]) for k in shipped.profiles)


def test_the_true_gradient_oracle_is_refused_on_several_processes():
    """The oracle reads every node's allocation, which a rank hosting some of the nodes does not have."""
    from ecodec.decomposition.options import OptionError

    class TwoRanks(InProcessRuntime):  # a runtime that hosts only the first node, as rank 0 of two would
        def __init__(self, network):
            super().__init__(network)
            self.local_agents = self.local_agents[:1]

    problem = hand_instance()
    with pytest.raises(OptionError, match="gradient 'full' is an oracle that reads every node's allocation"):
        run(problem, problem.network, "drs", options_for("drs", {"gradient": "full"}),
            runtime=TwoRanks(problem.network))

"""Macroscopic probabilistic deployment (MACROPT; docs/deployment.md), against independent references: central
finite differences of the divergence, the same divergence written as a Pyomo model, the symmetry of a one-agent
case, and the tracking invariant of the consensus."""

from __future__ import annotations

import numpy as np
import pyomo.environ as pyo
import pytest

from ecodec.decomposition import StoppingRules, options_for, run
from ecodec.decomposition.registry import REGISTRY
from ecodec.io.workbook import read_case
from ecodec.models import Sensor
from ecodec.network import CommunicationNetwork
from ecodec.problem import DeploymentProblem, TargetComponent, Workspace, problem_from_case
from ecodec.runtime import InProcessRuntime

QUADRANTS = [TargetComponent(x, y, 10.0, 1.0) for x in (25.0, 75.0) for y in (25.0, 75.0)]


def small(n: int = 12, divergence: str = "model-target", seed: int = 0, floor: float = 1e-6) -> DeploymentProblem:
    rng = np.random.default_rng(seed)
    agents = [Sensor(f"s{k:02d}", x0_m=float(x), y0_m=float(y)) for k, (x, y) in
              enumerate(rng.uniform(35.0, 65.0, (n, 2)))]
    return DeploymentProblem(agents, Workspace(0, 100, 0, 100, 20, 20), QUADRANTS, divergence=divergence,
                             floor=floor, name="small")


def single() -> DeploymentProblem:
    """One agent, one Gaussian target at the centre of a symmetric workspace: by symmetry the optimum puts the agent
    at the centre (50, 50)."""
    return DeploymentProblem([Sensor("a", x0_m=70.0, y0_m=35.0)], Workspace(0, 100, 0, 100, 25, 25),
                             [TargetComponent(50.0, 50.0, 8.0, 1.0)], name="single")


@pytest.mark.parametrize("divergence", ["model-target", "target-model"])
def test_the_gradient_equals_central_finite_differences(divergence):
    problem = small(divergence=divergence)
    x = problem.initial_positions()
    step, numeric = 1e-5, np.zeros_like(x)
    for i in range(x.shape[0]):
        for k in range(2):
            up, down = x.copy(), x.copy()
            up[i, k] += step
            down[i, k] -= step
            numeric[i, k] = (problem.divergence(problem.model(up)) - problem.divergence(problem.model(down))) / (2 * step)
    assert np.abs(problem.gradient(x) - numeric).max() <= 1e-8 * max(1.0, np.abs(numeric).max())


@pytest.mark.parametrize("divergence", ["model-target", "target-model"])
def test_the_divergence_equals_the_pyomo_model_built_from_the_agents(divergence):
    """With a floor below every cell's model, P_E is the identity and the two formulations must agree."""
    problem = small(n=3, divergence=divergence, floor=1e-60)
    assert problem.model(problem.initial_positions()).min() > problem.epsilon
    model = problem.centralized_model().model
    assert pyo.value(model.objective) == pytest.approx(problem.divergence(problem.model(problem.initial_positions())),
                                                       rel=1e-10)


def test_one_agent_moves_to_the_centre_of_a_centred_target():
    problem = single()
    network = CommunicationNetwork.from_edges(["a"], [])
    for method in ("centralized", "macropt"):
        result = run(problem, network, method, options_for(method, {}), StoppingRules(max_iterations=5000))
        position = result.dispatch.set_index("quantity")["value"]
        assert (position["x"], position["y"]) == pytest.approx((50.0, 50.0), abs=0.05), method


def test_the_consensus_keeps_the_sum_of_the_trackers_at_zero_and_the_kl_falls():
    problem = small()
    network = CommunicationNetwork.named("ring", [a.name for a in problem.agents])
    spec = REGISTRY["macropt"]
    driver = spec.driver(problem, InProcessRuntime(network), spec.make_options({"step_size": 50.0}))
    driver.setup()
    first = problem.divergence(problem.model(problem.initial_positions()))
    for k in range(300):
        driver.iterate(k)
        total = sum(agent.w for agent in driver.local.values())
        assert np.abs(total).max() <= 1e-10  # sum_i w_i = 0: the mean of the estimates is p(x)
        mean = sum(agent.estimate for agent in driver.local.values()) / problem.n_agents
        positions = np.array([driver.local[a.name].x for a in problem.agents])
        assert np.abs(mean - problem.model(positions)).max() <= 1e-12
    assert problem.divergence(problem.model(positions)) < 0.5 * first


def test_the_shipped_deployment_case():
    problem = problem_from_case(read_case("cases/deployment_100.xlsx"))
    assert (problem.n_agents, problem.n_cells) == (100, 2500)
    assert problem.target.sum() == pytest.approx(1.0)
    x = problem.initial_positions()
    assert np.all((x >= 40.0) & (x <= 60.0))


def test_compare_keeps_snapshots_and_the_report_draws_them(tmp_path):
    from test_report import headings, pdf_pages

    from ecodec.study import compare_case

    problem = small()
    network = CommunicationNetwork.named("ring", [a.name for a in problem.agents])
    study = compare_case(problem, ["macropt"], network=network, stopping={"max_iterations": 150},
                         report=tmp_path / "deployment.pdf")
    reference, result = study.runs
    assert set(result.info["snapshots"]) == {"0", "1", "10", "100", "final"}
    final = np.array(result.info["snapshots"]["final"])
    assert final == pytest.approx(result.dispatch.pivot(index="agent", columns="quantity", values="value")
                                  .loc[[a.name for a in problem.agents], ["x", "y"]].to_numpy())
    assert reference.info["stationarity"] <= 1e-6  # L-BFGS-B ends at a stationary point
    assert result.history["objective"].iloc[-1] < result.history["objective"].iloc[0]
    assert [h.split(" ", 1)[1] for h in headings(pdf_pages(tmp_path / "deployment.pdf"))] == [
        "Results at a glance", "The case", "Deployment", "Run details"]


def test_a_summary_value_too_long_for_a_cell_is_pointed_to_not_cut(tmp_path):
    """A 60 x 60 workspace: the target in the run's info is longer than an Excel cell holds; results.xlsx says where
    the whole value is instead of cutting it, and summary.json keeps it whole."""
    import json

    import openpyxl

    from ecodec.results.store import save_run
    from ecodec.results.workbook import CELL_LIMIT

    problem = DeploymentProblem([Sensor("a", x0_m=20.0, y0_m=30.0)], Workspace(0, 100, 0, 100, 60, 60), QUADRANTS)
    network = CommunicationNetwork.from_edges(["a"], [])
    result = run(problem, network, "macropt", options_for("macropt", {}), StoppingRules(max_iterations=3))
    assert len(json.dumps(result.info["layout"])) > CELL_LIMIT
    save_run(result, tmp_path)
    rows = {r[0]: r[1] for r in openpyxl.load_workbook(tmp_path / "results.xlsx")["summary"].iter_rows(values_only=True)}
    assert "more than a cell holds: see summary.json" in rows["layout"]
    assert all(len(str(v)) <= CELL_LIMIT for v in rows.values())
    saved = json.loads((tmp_path / "summary.json").read_text())
    assert len(saved["info"]["layout"]["target"]) == 3600

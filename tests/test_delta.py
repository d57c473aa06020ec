"""DELTA, data-driven aggregative tracking (docs/delta.md), against independent references: aggregative tracking's
iterates when the surrogate is exact, the true gradients of a fixed quadratic, the tracking invariants, the
centralized optimum before and after a change of the costs, and the refusal without the optional extra."""

from __future__ import annotations

import dataclasses
import subprocess
import sys

import numpy as np
import pytest

from ecodec.decomposition import Hook, StoppingRules, options_for, run
from ecodec.decomposition.driver import run_driver
from ecodec.decomposition.options import OptionError
from ecodec.decomposition.registry import REGISTRY
from ecodec.io.delta import delta_problem
from ecodec.io.workbook import read_case
from ecodec.problem import problem_from_case
from ecodec.runtime import InProcessRuntime
from ecodec.solvers.surrogates import Surrogate, SurrogateSpec
from ecodec.study import load

SMALL = {"width": 16, "replay": 8}


def quadratic_problem(n: int = 6):
    """The DELTA experiment's agents without their exponential term: every cost is a quadratic in (x_i, sigma)."""
    problem, network = delta_problem(n, 3)
    problem.agents = [dataclasses.replace(agent, a=0.0) for agent in problem.agents]
    return problem, network


def x_columns(history):
    return history[[c for c in history.columns if c.startswith("x:")]].to_numpy(float)


def test_an_exact_quadratic_surrogate_reproduces_aggregative_tracking():
    """Quadratic surrogates fitted (least squares) on exact samples of quadratic costs are the costs: DELTA's
    updates are then those of aggregative tracking with damping 1, iterate for iterate, while the learning step
    (sgd, on samples measured where the surrogate is queried) keeps the exact fit."""
    problem, network = quadratic_problem()
    stopping = StoppingRules(max_iterations=150)
    tracking = run(problem, network, "aggregative-tracking", options_for("aggregative-tracking", {"step_size": 0.05}),
                   stopping)
    delta = run(problem, network, "delta", options_for("delta", {
        "step_size": 0.05, "surrogate": "quadratic", "pretrain_samples": 40, "optimizer": "sgd",
        "learning_rate": 1e-3, "sample_aggregate": "estimate"}), stopping)
    a, b = x_columns(tracking.history), x_columns(delta.history)
    assert a.shape == b.shape == (150, 12)
    assert np.max(np.abs(a - b)) <= 1e-8
    assert delta.history["learning_error"].max() <= 1e-8
    assert np.max(np.abs(a[-1] - a[0])) > 0.1  # the iterates did move


def test_the_learned_gradient_error_falls_on_a_fixed_quadratic():
    """A network trained on samples around a fixed point of a fixed quadratic learns its gradient there: the
    relative error after 1500 learning steps is below a third of the error after 50, on each of five seeds."""
    rng = np.random.default_rng(0)
    q = rng.normal(size=(4, 4))
    p, v = q.T @ q / 4 + np.eye(4), rng.normal(size=4)
    point = np.array([0.5, -1.0, 0.2, 0.8])
    true = p @ point + v
    for seed in range(5):
        draws = np.random.default_rng(seed)
        surrogate = Surrogate(SurrogateSpec("mlp", width=32, learning_rate=3e-3, activation="gelu"),
                              center=np.zeros(4), half_width=np.full(4, 5.0), cost_scale=5.0, seed=seed)
        us, ys = np.zeros((32, 4)), np.zeros(32)
        errors = {}
        for k in range(1500):
            u = point + draws.normal(0.0, 0.5, 4)
            us[k % 32], ys[k % 32] = u, 0.5 * u @ p @ u + v @ u
            _, grad = surrogate.learn_then_gradient(us, ys, (np.arange(32) <= k).astype(float), point)
            if k + 1 in (50, 1500):
                errors[k + 1] = np.linalg.norm(grad - true) / np.linalg.norm(true)
        assert errors[1500] < errors[50] / 3, (seed, errors)
        assert errors[1500] < 0.1, (seed, errors)


class _Invariants(Hook):
    """After every iteration: sum_i w_i = sum_i (s_i - phi_i(x_i)) and sum_i z_i = sum_i (y_i - grad_2 f_hat_i)."""

    def __init__(self, driver):
        self.driver, self.worst = driver, 0.0

    def on_iteration(self, record):
        local = self.driver.local.values()
        w = sum(agent.s - agent.phi for agent in local)
        z = sum(agent.y - agent.grad[agent.f.n:] for agent in local)
        self.worst = max(self.worst, float(np.max(np.abs(w))), float(np.max(np.abs(z))))


@pytest.mark.parametrize("case", ["delta", "cases/community_market.xlsx"])
def test_the_tracking_invariants_hold_at_every_iteration(case):
    if case == "delta":
        problem, network = delta_problem(7, 1)
        options = {**SMALL}
    else:
        prepared = load(case)
        problem, network = prepared.problem, prepared.network
        options = {**SMALL, "step_size": 1e-3, "graph": "random"}
    driver = REGISTRY["delta"].driver(problem, InProcessRuntime(network), options_for("delta", options))
    hook = _Invariants(driver)
    result = run_driver(driver, StoppingRules(max_iterations=60), [hook])
    assert len(result.history) == 60
    assert hook.worst <= 1e-10


@pytest.mark.slow
@pytest.mark.xdist_group("delta")
def test_the_distance_falls_two_orders_and_recovers_after_the_costs_change():
    """The reduced experiment (8 agents, 128-neuron layers): two orders of magnitude below the start before the
    change; after it, the distance to the new optimum falls back to the same neighbourhood."""
    from ecodec.study.cost_change import cost_change_study

    (before, network), (after, _) = delta_problem(8, 0), delta_problem(8, 0, cost_seed=1)
    study = cost_change_study(before, after, change_at=3000, iterations=5000, network=network,
                              options={"width": 128})
    d = study.run.history.set_index("iteration")["distance"]
    start, plateau = d.loc[1], d.loc[2801:3000].median()
    assert plateau <= start / 100
    jump = d.loc[3001]
    assert jump > 20 * plateau  # the old optimum is far from the new one
    assert d.loc[4801:5000].median() <= max(2 * plateau, jump / 30)
    # the optima themselves: the change moved them (the references are independent centralized solves)
    assert study.optimum_before.objective != pytest.approx(study.optimum_after.objective, rel=1e-3)


def test_delta_without_jax_is_refused_naming_the_extra(tmp_path):
    code = ("import sys; sys.modules['jax'] = None; sys.modules['optax'] = None\n"
            "from ecodec.cli import main\n"
            "sys.exit(main(['run', 'cases/delta_20.xlsx', '--method', 'delta', '--max-iterations', '3', '-q']))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode not in (0, 1), done
    assert "optional extra 'learning'" in done.stderr and "pip install 'ecodec[learning]'" in done.stderr
    assert "Traceback" not in done.stderr


def test_bad_options_are_refused_with_their_words():
    with pytest.raises(OptionError, match="delta option activation must be one of 'tanh', 'softplus', 'gelu', 'sigmoid', got 'relu'"):
        options_for("delta", {"activation": "relu"})
    with pytest.raises(OptionError, match="perturbation_scale"):
        options_for("delta", {"perturbation_scale": -1})


def test_the_generated_case_and_its_workbook_checks(tmp_path):
    done = subprocess.run([sys.executable, "-m", "ecodec", "generate", "delta", "--n", "20", "--seed", "0", "-o",
                           str(tmp_path / "d.xlsx")], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    shipped, generated = (problem_from_case(read_case(p)) for p in ("cases/delta_20.xlsx", tmp_path / "d.xlsx"))
    assert [dataclasses.asdict(a) for a in shipped.agents] == [dataclasses.asdict(a) for a in generated.agents]
    assert shipped.n_agents == 20 and shipped.aggregates == ("mean_x1", "mean_x2")
    refused = subprocess.run([sys.executable, "-m", "ecodec", "generate", "delta", "--n", "1", "-o",
                              str(tmp_path / "e.xlsx")], capture_output=True, text=True)
    assert refused.returncode != 0 and "--n 1: expected a number of agents >= 2" in refused.stderr
    assert not (tmp_path / "e.xlsx").exists()


def test_a_matrix_p_that_is_not_positive_definite_is_refused_at_its_row(tmp_path):
    from openpyxl import load_workbook

    from ecodec.study import validate_case

    path = tmp_path / "bad.xlsx"
    book = load_workbook("cases/delta_20.xlsx")
    sheet = book["quadratic_exponential"]
    header = [c.value for c in sheet[1]]
    row = next(r for r in range(2, sheet.max_row + 1) if sheet.cell(r, 1).value == "agent3")
    sheet.cell(row, header.index("p_11") + 1).value = -4.0
    book.save(path)
    done = subprocess.run([sys.executable, "-m", "ecodec", "validate", str(path)], capture_output=True, text=True)
    assert done.returncode != 0
    assert "sheet 'quadratic_exponential'" in done.stderr and f"row {row}" in done.stderr
    assert "P (p_11 .. p_44) positive definite" in done.stderr
    assert "Traceback" not in done.stderr
    with pytest.raises(Exception, match="positive definite"):
        validate_case(path)


def test_compare_reports_the_learning_section_with_its_snapshots(tmp_path):
    from test_report import headings, pdf_pages

    from ecodec.study import compare_case

    problem, network = delta_problem(5, 2)
    study = compare_case(problem, ["centralized", "delta"], network=network, stopping={"max_iterations": 25},
                         options={"delta": SMALL}, report=tmp_path / "delta.pdf")
    run_ = study.run("delta")
    assert list(run_.history["samples"])[-1] == 5 * 25 + 5  # one per agent and iteration, and one for the scale
    pages = pdf_pages(tmp_path / "delta.pdf")
    assert [h.split(" ", 1)[1] for h in headings(pages)] == [
        "Results at a glance", "The case", "Convergence", "Learning", "Costs per agent", "Run details"]
    assert any("delta: every agent's two decisions (red) at the snapshot iterations" in page for page in pages)
    from ecodec.report.learning_section import _reference_decisions

    agents = [a.name for a in problem.agents]
    matched = _reference_decisions(study.runs[0], run_, agents)  # the circles: the centralized x1, x2 per agent
    pivot = study.runs[0].dispatch.pivot_table(index="agent", columns="quantity", values="value")
    assert matched == pytest.approx(pivot.loc[agents, ["x1", "x2"]].to_numpy())
    learning = next(page for page in pages if "delta: values at the snapshots." in page)
    row = next(line.split() for line in learning.splitlines() if line.split()[:1] == ["20"])
    assert float(row[1]) == pytest.approx(run_.history.set_index("iteration").loc[20, "distance"], rel=1e-2)

"""Proximal minimization at fleet scale: the vectorized mixing, others' sums and spreading of w give the iterates of
the step written out block by block (every history value, the decisions, the copies and the prices), the set-up
holds nothing of the size G of the global vector but the agent's two copies, a step allocates no temporary of
that size, and a copy put in from outside (a resumed run) is never written into."""

from __future__ import annotations

import dataclasses
import functools
import tracemalloc

import numpy as np
import pytest

from ecodec.decomposition import options_for, spec_of
from ecodec.decomposition.proximal_minimization import GlobalLayout, _ProximalAgent
from ecodec.errors import ProblemError
from ecodec.io.pev import pev_tables
from ecodec.io.template import write_case_workbook
from ecodec.io.workbook import read_case
from ecodec.models.base import TimeGrid
from ecodec.network import network_from_case
from ecodec.problem import problem_from_case
from ecodec.problem.coupled import CoupledProblem
from ecodec.runtime.inprocess import InProcessRuntime
from ecodec.solvers.compiled import CompiledSubproblem

RANDOM = {"graph": "random", "edge_probability": 0.5, "graph_seed": 1}


def fleet(tmp_path_factory, n: int, **kwargs):
    path = tmp_path_factory.mktemp("fleet") / f"pev_{n}.xlsx"
    write_case_workbook(path, pev_tables(n, 0, "lp", **kwargs))
    case = read_case(path)
    return problem_from_case(case), network_from_case(case)


def banded(problem: CoupledProblem) -> CoupledProblem:
    """The feeder limit as a band: the fleet draws between 1 kW and the limit at every step (two rows per step)."""
    limit = problem.resources[0]
    band = dataclasses.replace(limit, sense="band", rhs=np.asarray(limit.rhs, dtype=float),
                               rhs_upper=np.full(problem.grid.T, -1.0))
    return CoupledProblem(problem.agents, [band], problem.grid, name=f"{problem.name}_band")


def cooling_window(steps: int = 8):
    """cases/cooling_district_4.xlsx over ``steps`` steps from noon: three resources, equality rows, agents that
    feed one or two of them."""
    case = read_case("cases/cooling_district_4.xlsx")
    problem, network = problem_from_case(case), network_from_case(case)
    T = problem.grid.T

    def cut(v):
        return v[48:48 + steps] if isinstance(v, np.ndarray) and v.shape == (T,) else v

    agents = [dataclasses.replace(a, **{f.name: cut(getattr(a, f.name)) for f in dataclasses.fields(a)})
              for a in problem.agents]
    resources = [dataclasses.replace(r, rhs=cut(r.rhs), rhs_upper=None if r.rhs_upper is None else cut(r.rhs_upper))
                 for r in problem.resources]
    return CoupledProblem(agents, resources, TimeGrid(steps, problem.grid.step_h), name="window"), network


def reference_step(agent, layout, rows, weights, own, inbox, c, k):
    """The step written out block by block: z_i as a sum of the neighbours' copies, each coupling row's bound from
    the other agents' blocks of its resource at its step, and the copy rebuilt by spreading w_r,t / m_r over the
    other blocks of resource r at step t (w: one column per (r, t) with other blocks, in (r, t) order)."""
    T, i = layout.T, agent.index
    z = np.zeros(layout.size)
    for j, a in weights.items():
        z = z + a * (agent.y if j == own else inbox[j])
    blocks = range(layout.owner.size)
    other_blocks = {r: [b for b in blocks if layout.resource[b] == r and layout.owner[b] != i]
                    for r in range(rows.n_resources)}
    upper = np.array([rows.total[q] - rows.sign[q] * sum(z[b * T + rows.step[q]] for b in
                                                          other_blocks[rows.resource[q]]) for q in range(rows.size)])
    own_entries = [b * T + t for b in blocks if layout.owner[b] == i for t in range(T)]
    program = agent.sub.program
    program.set_costs(np.arange(agent.n_model), c * agent.sub.cost_vector)
    program.set_costs(agent.y_cols, -z[own_entries])
    program.set_row_bounds(agent.coupling, np.where(rows.equality, upper, -np.inf), upper)
    solution = program.solve()
    assert solution.has_solution
    keys = sorted({(int(r), int(t)) for r, t in zip(rows.resource, rows.step) if other_blocks[r]})
    w = solution.x[agent.w_cols]
    assert w.size == len(keys)
    y = z.copy()
    for (r, t), w_rt in zip(keys, w):
        for b in other_blocks[r]:
            y[b * T + t] += w_rt / len(other_blocks[r])
    y[own_entries] = solution.x[agent.y_cols]
    agent.y, agent.x = y, solution.x[: agent.n_model]
    agent.lam = -solution.row_dual[agent.coupling] / c


def reference_spread(agent, mean):
    return max(abs(a - b) for a, b in zip(agent.y, mean))


def driver_of(problem, network, graph):
    """The method with HiGHS's active-set QP solver: its minimisers are vertices of the active set, the same to
    the last digits when the mixing differs in rounding, so two equal iterations stay equal to 1e-9 (an
    interior-point minimiser moves with such rounding at about PIQP's tolerance, 1e-8 after a dozen iterations;
    test_interior_qp.py compares the two solvers)."""
    driver = spec_of("proximal-minimization").driver(problem, InProcessRuntime(network),
                                                     options_for("proximal-minimization",
                                                                 {**graph, "qp_solver": "highs"}))
    driver.setup()
    return driver


def trajectory(driver, iterations: int) -> list[dict]:
    out = []
    for k in range(iterations):
        row = driver.iterate(k)
        row["x"] = np.concatenate([driver.local[name].x for name in driver.local])
        row["y"] = np.concatenate([driver.local[name].y for name in driver.local])
        row["prices"] = np.asarray(driver.prices(), dtype=float).ravel()
        out.append(row)
    return out


def assert_same(a, b, what: str) -> None:
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    scale = max(1.0, float(np.max(np.abs(b), initial=0.0)))
    assert a.shape == b.shape and np.max(np.abs(a - b), initial=0.0) <= 1e-9 * scale, what


@pytest.mark.parametrize("case", ["fleet_50", "fleet_8_band_random", "fleet_12_budget", "cooling_window"])
def test_the_vectorized_iteration_is_the_step_written_out(tmp_path_factory, case):
    graph, iterations = {}, 30
    if case == "fleet_50":  # one resource, '>=' rows at every step
        problem, network = fleet(tmp_path_factory, 50)
    elif case == "fleet_8_band_random":  # two rows per (resource, step) sharing one w column; random edges
        problem, network = fleet(tmp_path_factory, 8)
        problem, graph = banded(problem), RANDOM
    elif case == "fleet_12_budget":  # one horizon row: steps without rows, so without w columns
        problem, network = fleet(tmp_path_factory, 12, coupling="budget")
    else:  # three resources with equality rows; agents feeding one or two of them
        problem, network = cooling_window()
        iterations = 20
    tested, written_out = driver_of(problem, network, graph), driver_of(problem, network, graph)
    for agent in written_out.local.values():
        agent.step = functools.partial(reference_step, agent, written_out.layout, written_out.rows)
        agent.spread = functools.partial(reference_spread, agent)
    a, b = trajectory(tested, iterations), trajectory(written_out, iterations)
    for k, (row_a, row_b) in enumerate(zip(a, b)):
        assert row_a.keys() == row_b.keys()
        for key in row_a:
            assert_same(row_a[key], row_b[key], f"{case}: '{key}' at iteration {k + 1}")
    # the runs moved: the copies left 0 and the consensus error changed
    assert np.max(np.abs(a[-1]["y"])) > 0 and a[-1]["consensus_error"] != a[0]["consensus_error"]


def traced_peak(fn) -> int:
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        before = tracemalloc.get_traced_memory()[0]
        fn()
        return tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()


@pytest.fixture(scope="module")
def two_fleets(tmp_path_factory):
    """The same first vehicle in fleets of 100 and 300 (the generator draws vehicles in order), set up and run
    for two iterations."""
    out = {}
    for n in (100, 300):
        driver = driver_of(*fleet(tmp_path_factory, n), {})
        driver.iterate(0)
        driver.iterate(1)
        out[n] = driver
    return out


def test_the_set_up_holds_two_copies_and_nothing_else_that_grows_with_the_fleet(two_fleets):
    peaks, sizes = {}, {}
    for n, driver in two_fleets.items():
        sizes[n] = driver.layout.size
        agent = _ProximalAgent(CompiledSubproblem(driver.problem, "ev1"), driver.rows, 0)
        scratch = np.empty(driver.layout.size)
        peaks[n] = traced_peak(lambda: agent.append_copy(driver.layout, scratch))
        assert agent.y.size == driver.layout.size == 24 * n
        assert agent.w_cols.size == 24 and agent.y_cols.size == 24  # one w per step, the agent's own block
    # 200 more blocks of 24 floats: two copies (2 x 8 bytes a float) and at most 64 bytes a block besides,
    # where a matrix over the others' blocks would take rows x blocks entries (1 kB: small objects)
    copies = 16 * (sizes[300] - sizes[100])
    assert copies - 1024 <= peaks[300] - peaks[100] <= copies + 64 * 200


def test_a_step_and_the_spread_allocate_nothing_of_the_size_of_the_global_vector(two_fleets):
    driver = two_fleets[300]
    G = driver.layout.size
    graph = driver.active_graph(2)
    inbox = driver.runtime.exchange({name: agent.y for name, agent in driver.local.items()}, graph)
    agent = driver.local["ev7"]
    step = traced_peak(lambda: agent.step(graph.weights_of("ev7"), "ev7", inbox["ev7"], 1.0, 2))
    mean = np.mean([a.y for a in driver.local.values()], axis=0)
    spread = traced_peak(lambda: agent.spread(mean))
    assert step < 8 * G / 4 and spread < 8 * G / 4  # a quarter of one copy: only the agent's own columns and rows


def test_a_copy_put_in_from_outside_is_never_written_into(two_fleets):
    driver = two_fleets[100]
    agent = driver.local["ev3"]
    outside = np.linspace(-1.0, 1.0, driver.layout.size)
    kept = outside.copy()
    agent.y = outside  # as a resumed run puts the checkpoint's copy back
    for k in (2, 3, 4):
        agent.step({"ev3": 1.0}, "ev3", {}, 1.0, k)
        assert agent.y is not outside
    np.testing.assert_array_equal(outside, kept)


def test_a_layout_out_of_order_is_refused():
    with pytest.raises(ProblemError, match="ordered resource by resource"):
        GlobalLayout(owner=np.array([1, 0]), resource=np.array([0, 0]), T=2)
    with pytest.raises(ProblemError, match="at most one block per agent and resource"):
        GlobalLayout(owner=np.array([0, 0]), resource=np.array([1, 1]), T=2)
    layout = GlobalLayout.from_feeds(np.array([[0.0, 1.0], [1.0, 1.0], [1.0, 0.0]]), T=4)
    assert layout.owner.tolist() == [1, 2, 0, 1] and layout.starts(2).tolist() == [0, 2, 4]

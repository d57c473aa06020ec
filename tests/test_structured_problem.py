"""The structured problem kind and the proximal-minimization step: the structured centralized model has the coupled
one's optimum, its global vector has the blocks the agents feed, the method's reduced local step equals the full
proximal step (every copy of every global variable a column), and a message carries only the global copies."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from ecodec.decomposition import StoppingRules, options_for, run, spec_of
from ecodec.io.workbook import read_case
from ecodec.network import network_from_case
from ecodec.problem import problem_from_case
from ecodec.problem.structured import StructuredProblem
from ecodec.runtime.inprocess import InProcessRuntime
from ecodec.solvers.compiled import CompiledSubproblem

CASE = "cases/cooling_district_4.xlsx"


@pytest.fixture(scope="module")
def cooling():
    case = read_case(CASE)
    return problem_from_case(case), network_from_case(case)


def test_the_structured_model_has_the_coupled_optimum_and_prices(cooling):
    coupled, network = cooling
    structured = StructuredProblem.of(coupled)
    a = run(coupled, network, "centralized")
    b = run(structured, network, "centralized")
    assert b.objective == pytest.approx(a.objective, rel=1e-7)
    # the coupling rows of the structured model are written on the global variables, under the same names:
    # their duals are the resources' prices (the largest price is a unique, binding one at the peak)
    pa = a.coupling.set_index(["resource", "t"])["price"]
    pb = b.coupling.set_index(["resource", "t"])["price"]
    assert pb.abs().max() == pytest.approx(pa.abs().max(), rel=1e-6)


def test_the_global_vector_holds_one_block_per_agent_and_resource_it_feeds(cooling):
    coupled, _ = cooling
    structured = StructuredProblem.of(coupled)
    # from the case: the buildings' chillers take active power and the buildings exchange cold, the tank
    # exchanges cold, the grid supplies active and reactive power; resource by resource, agents in case order
    buildings = ["b1", "b2", "b3", "b4"]
    expected = ([("grid", "active_power")] + [(b, "active_power") for b in buildings] + [("grid", "reactive_power")]
                + [(b, "cooling") for b in buildings] + [("tank", "cooling")])
    assert structured.blocks() == expected
    assert structured.global_size() == len(expected) * coupled.grid.T
    assert StructuredProblem.of(structured) is structured


def _full_step(problem, name: str, layout, rows, z: np.ndarray, c: float) -> np.ndarray:
    """The proximal step as written: every copy of every global variable a column of the agent's QP,
    min c f(x) + ||y - z||^2 / 2 over the agent's rows, its blocks' definitions and the coupling rows on y."""
    sub = CompiledSubproblem(problem, name)
    program, T = sub.program, layout.T
    n, index = program.n_cols, [a.name for a in problem.agents].index(name)
    y = program.add_columns(-z, -np.inf, np.inf)
    size = program.n_cols
    for b in np.flatnonzero(layout.owner == index):
        select = layout.resource[b] * T + np.arange(T)
        h = sp.csr_array(sub.contribution_map.matrix[select])
        h.resize((T, size))
        pick = sp.csr_array((-np.ones(T), (np.arange(T), y[b * T + np.arange(T)])), shape=(T, size))
        program.add_rows(sp.csr_array(h + pick), -sub.contribution_map.offset[select],
                         -sub.contribution_map.offset[select])
    entries = [(k, y[b * T + rows.step[k]], rows.sign[k]) for k in range(rows.size)
               for b in np.flatnonzero(layout.resource == rows.resource[k])]
    r, col, v = zip(*entries)
    program.add_rows(sp.csr_array((v, (r, col)), shape=(rows.size, size)),
                     np.where(rows.equality, rows.total, -np.inf), rows.total)
    program.set_costs(np.arange(n), c * sub.cost_vector)
    program.set_hessian(sp.csc_array((np.ones(y.size), (y, y)), shape=(size, size)))
    solution = program.solve()
    assert solution.has_solution
    return solution.x[y]


def test_the_reduced_local_step_is_the_full_proximal_step(cooling):
    coupled, network = cooling
    options = options_for("proximal-minimization")
    driver = spec_of("proximal-minimization").driver(coupled, InProcessRuntime(network), options)
    driver.setup()
    driver.iterate(0)  # z = 0 (every copy starts at 0): a first step from the origin
    driver.iterate(1)  # z = the average of the first copies (complete graph, equal weights)
    rng = np.random.default_rng(3)
    for name in ("b2", "tank", "grid"):
        agent = driver.local[name]
        z = rng.normal(0.0, 50.0, agent.y.size)
        agent.y = z  # the agent's own copy, mixed with nobody else's: z_i = z
        agent.step({name: 1.0}, name, {}, 7.5, 2)
        full = _full_step(driver.problem, name, driver.layout, driver.rows, z, 7.5)
        assert np.max(np.abs(agent.y - full)) <= 1e-5 * max(1.0, np.max(np.abs(full)))


def test_a_message_carries_the_global_copies_only(cooling):
    coupled, network = cooling
    runs = [run(coupled, network, "proximal-minimization", stopping=StoppingRules(max_iterations=k)) for k in (2, 5)]
    g = StructuredProblem.of(coupled).global_size()
    assert runs[0].info["floats_per_message"] == g
    messages = runs[1].info["messages"] - runs[0].info["messages"]
    floats = runs[1].info["floats_sent"] - runs[0].info["floats_sent"]
    assert messages == 3 * 2 * len(network.edges)  # three iterations, every edge both ways (complete graph)
    assert floats == messages * g


def _window(problem, start: int, steps: int):
    """The same district over steps start .. start + steps - 1 (every profile cut to the window)."""
    import dataclasses

    from ecodec.models.base import TimeGrid
    from ecodec.problem.coupled import CoupledProblem

    T = problem.grid.T

    def cut(v):
        return v[start:start + steps] if isinstance(v, np.ndarray) and v.shape == (T,) else v

    agents = [dataclasses.replace(a, **{f.name: cut(getattr(a, f.name)) for f in dataclasses.fields(a)})
              for a in problem.agents]
    resources = [dataclasses.replace(r, rhs=cut(r.rhs), rhs_upper=None if r.rhs_upper is None else cut(r.rhs_upper))
                 for r in problem.resources]
    return CoupledProblem(agents, resources, TimeGrid(steps, problem.grid.step_h), name=f"{problem.name}_window")


@pytest.mark.slow
@pytest.mark.parametrize("graph", [{}, {"graph": "random", "edge_probability": 0.5, "graph_seed": 1}])
def test_proximal_minimization_reaches_the_centralized_optimum_and_consensus(cooling, graph):
    # the four buildings, the tank and the grid over the 4 hours from noon (16 steps): the structure of the
    # district case at a sixth of its size (docs/structured_programs.md measures the whole day)
    coupled, network = cooling
    window = _window(coupled, 48, 16)
    reference = run(window, network, "centralized")
    tol = 1e-2
    result = run(window, network, "proximal-minimization", options_for("proximal-minimization", graph),
                 StoppingRules(max_iterations=8000, violation_tol=tol, cost_gap_tol=tol), reference=reference)
    last = result.history.iloc[-1]
    assert result.status == "converged", result.info["message"]
    assert last["cost_gap"] <= tol and last["rel_violation"] <= tol and last["consensus_error"] <= tol
    # the consensus error fell from its first value by more than an order of magnitude
    assert last["consensus_error"] <= 0.1 * result.history["consensus_error"].iloc[0]

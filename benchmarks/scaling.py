"""Benchmark (b): per-iteration time of primal decomposition as the number of agents grows.

The case's agents are replicated k times (:func:`ecodec.problem.replicate.replicate_problem`: agents ``name_c``,
right-hand sides times k, optimum exactly k times the case's).  The communication graph keeps the case's edges
inside every copy and joins the copies in a ring through their ``grid`` agents, so the diameter grows with k as
it would in a chain of neighbouring communities.

Per size: the setup time of :func:`ecodec.decomposition.driver.run_driver` (compiling every local subproblem
and the initial split), the median of the history column ``iteration_time_s`` (one iteration of every agent:
local solves, neighbour exchange, allocation updates; the loop's monitoring is excluded), and, measured in the
same run as the baseline, the wall time of the centralized solve of the replicated problem
(:func:`ecodec.decomposition.centralized.solve_centralized`: Pyomo build + solve; its ``solve_time_s``, the
:func:`~ecodec.solvers.highs.solve_with_highs` call alone, is reported too).  The run has a fixed
iteration count with the default options: it measures time, not convergence.
"""

from __future__ import annotations

import itertools
import statistics
from dataclasses import dataclass

from ecodec.case import Case
from ecodec.decomposition.centralized import solve_centralized
from ecodec.decomposition.driver import StoppingRules, run_driver
from ecodec.decomposition.primal_decomposition import PrimalDecomposition, PrimalDecompositionOptions
from ecodec.network.graph import CommunicationNetwork
from ecodec.problem.coupled import CoupledProblem
from ecodec.problem.replicate import replica_name, replicate_problem
from ecodec.runtime.inprocess import InProcessRuntime

#: options of the methods timed per agent or per iteration (benchmarks (b), (c), (m)): primal decomposition's
#: published LP update, whose cost is the runtime's overhead per agent; its default augmented update solves a QP
TIMED_OPTIONS = {"primal-decomposition": {"allocation_update": "subgradient"}}

HUB = "grid"


@dataclass(frozen=True)
class ScalingResult:
    """Timings of one replicated size; ``objective_ratio`` is the centralized optimum over k times the case's."""

    copies: int
    agents: int
    edges: int
    setup_s: float
    ms_per_iteration: float
    iterations: int
    centralized_s: float
    centralized_solve_s: float
    objective_ratio: float

    @property
    def ms_per_iteration_per_agent(self) -> float:
        return self.ms_per_iteration / self.agents

    @property
    def iteration_over_centralized(self) -> float:
        return self.ms_per_iteration / 1e3 / self.centralized_s


def replicated_network(case: Case, problem: CoupledProblem, copies: int) -> CommunicationNetwork:
    """The case's edges inside every copy, plus a ring through the copies' ``grid`` agents (a path for k = 2)."""
    edges = [(replica_name(a, c), replica_name(b, c)) for c in range(1, copies + 1) for a, b in case.edges]
    hubs = [replica_name(HUB, c) for c in range(1, copies + 1)]
    edges += list(itertools.pairwise(hubs)) + ([(hubs[-1], hubs[0])] if copies > 2 else [])
    return CommunicationNetwork.from_edges([a.name for a in problem.agents], edges, topology=f"{copies} copies")


def measure_size(case: Case, problem: CoupledProblem, copies: int, iterations: int,
                 case_objective: float) -> ScalingResult:
    """Primal decomposition for ``iterations`` iterations and the centralized solve on ``copies`` copies."""
    replicated = replicate_problem(problem, copies)
    network = replicated_network(case, replicated, copies)
    options = PrimalDecompositionOptions(**TIMED_OPTIONS["primal-decomposition"])
    driver = PrimalDecomposition(replicated, InProcessRuntime(network), options)
    run = run_driver(driver, StoppingRules(max_iterations=iterations))
    centralized = solve_centralized(replicated)
    if not centralized.has_solution:
        raise RuntimeError(f"the centralized solve of {copies} copies ended {centralized.status}")
    return ScalingResult(
        copies=copies, agents=len(replicated.agents), edges=network.n_edges, setup_s=run.info["setup_time_s"],
        ms_per_iteration=statistics.median(run.history["iteration_time_s"]) * 1e3, iterations=len(run.history),
        centralized_s=centralized.info["wall_time_s"], centralized_solve_s=centralized.info["solve_time_s"],
        objective_ratio=centralized.objective / (copies * case_objective))

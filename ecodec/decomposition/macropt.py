"""MACROPT: macroscopic consensus and microscopic gradient-based optimization (Brumali, Carnevale, Notarstefano,
European Journal of Control 86, 2025; the update as the ECODREAM report prints it, ALGORITHMS_WAVE2.md section 3).

Problem: :class:`~ecodec.problem.DeploymentProblem`, min_x l(p(x)) with p(x) = (1/N) sum_i p_i(x_i) the
macroscopic model (kernels over C cells) and l a Kullback-Leibler divergence to a target.  Agent i does not know
p(x); it tracks it with w_i in R^C by consensus, s_i = w_i + p_i(x_i) being its estimate of p.  Per iteration k,
with the consensus weights a_ij (Metropolis-Hastings over the graph active at k, self included):

    x_i^k+1 = P_W[ x_i^k - gamma (1/N) J_i(x_i^k)' (dl/dp)|_{p = P_E(s_i^k)} ]       (microscopic gradient step)
    w_i^k+1 = sum_j a_ij (w_j^k + p_j(x_j^k)) - p_i(x_i^k)                             (macroscopic consensus)

(one message per neighbour and iteration: s_j, C numbers).  J_i = d p_i / d x_i, P_W the projection on the
workspace, P_E(v) = max(v, eps) the projection that keeps the estimate positive (eps = ``floor`` / C, the
problem's).  The tracking line is read with parentheses, ``[R]``: printed without them it is not a tracker; so read,
sum_i w_i^k = sum_i w_i^0 = 0 for a doubly stochastic A (w_i^0 = 0), hence (1/N) sum_i s_i^k = p(x^k) at every k
(the tracking invariant, tested), and s_i^k -> p(x^k) as the steps settle.  The paper proves convergence to the set of
stationary points of the non-convex cost, not to a global optimum.

Stopping: the :class:`~ecodec.decomposition.stopping.Stationary` rule, the projected-gradient stationarity
||x - P_W(x - grad)|| of the true divergence and the agents' largest relative tracking error
max_i ||s_i - p|| / ||p|| both at most ``stationarity_tol``.

=========  ======================  ==================================================================================
symbol     option                  meaning
=========  ======================  ==================================================================================
gamma      ``step_size``           step of the gradient (m per unit of gradient), ``[D]``: the paper's is not visible
eps        (the problem's)         P_E's floor
           ``stationarity_tol``    the stopping rule above
a_ij(k)    ``graph`` and options   fixed, random or periodic graphs (:mod:`ecodec.network.time_varying`)
=========  ======================  ==================================================================================

History: ``step_size``, ``stationarity``, ``tracking_error``, ``active_edges``.  The evaluation computes p(x)
from every position each iteration (monitoring, not part of the method).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ecodec.decomposition.neighbour_driver import NeighbourDriver
from ecodec.decomposition.options import TimeVaryingGraphOptions, option
from ecodec.decomposition.registry import Column, MethodSpec, register
from ecodec.decomposition.stopping import Stationary
from ecodec.results.run_result import AgentOutcome

METHOD = "macropt"
#: Iterations at which the run keeps every position for the report (the report's k = 2e4, 5e4, 1e5, and powers
#: of ten), besides the first and the last
SNAPSHOTS = frozenset({1, 10, 100, 1000, 10_000, 20_000, 50_000, 100_000})


@dataclass(frozen=True)
class MacroptOptions(TimeVaryingGraphOptions):
    """MACROPT's options: ``step_size`` gamma, ``stationarity_tol`` (stopping) and the graph options."""

    method = METHOD
    step_size: float = option(50.0, "m per unit of gradient", "gamma, the step of the microscopic gradient",
                              lower=0.0, lower_open=True)
    stationarity_tol: float = option(1e-4, "-", "stop when the projected-gradient stationarity (m) and the largest "
                                     "relative tracking error of p are both at most this", lower=0.0,
                                     lower_open=True)


class _Agent:
    """Agent i: its position, width and tracker w_i, and its kernel at its current position."""

    def __init__(self, problem, index: int):
        self.problem, self.i = problem, index
        agent = problem.agents[index]
        self.x = np.array([agent.x0_m, agent.y0_m], dtype=float)
        self.width = problem.widths[index: index + 1]
        self.kernel = problem.kernels(self.x[None, :], self.width)[0]
        self.w = np.zeros(problem.n_cells)

    @property
    def estimate(self) -> np.ndarray:
        return self.w + self.kernel

    def step(self, gamma: float, mixed: np.ndarray) -> None:
        """One iteration of the module docstring; ``mixed``: the neighbours' weighted estimates, own included."""
        problem = self.problem
        slope = problem.divergence_slope(self.estimate)  # at P_E(s_i)
        move = problem.kernel_step(self.x[None, :], self.width, slope, self.kernel[None, :])[0] / problem.n_agents
        self.w = mixed - self.kernel
        self.x = problem.workspace.project((self.x - gamma * move)[None, :])[0]
        self.kernel = problem.kernels(self.x[None, :], self.width)[0]


@register(MethodSpec(
    METHOD, "macroscopic consensus and microscopic gradient steps: agents move their kernels toward a target density, "
    "tracking the macroscopic model by consensus", kinds=("deployment",), default_for=("deployment",),
    options=MacroptOptions, stopping=(Stationary(),), progress=("stationarity", "tracking_error", "cost_gap"),
    columns=(Column("step_size", "gamma, the step of the gradient"),
             Column("active_edges", "edges of the graph active at this iteration"),
             Column("stationarity", "||x - P_W(x - grad)|| of the true divergence (m)", label="stationarity"),
             Column("tracking_error", "max_i ||s_i - p(x)|| / ||p(x)||", label="tracking error"))))
class Macropt(NeighbourDriver):
    """MACROPT; the math is in the module docstring."""

    def setup(self) -> None:
        self.start_schedule()
        self.local: dict[str, _Agent] = {}
        index = {a.name: k for k, a in enumerate(self.problem.agents)}
        self.runtime.each(lambda name: self.local.__setitem__(name, _Agent(self.problem, index[name])))
        self.decisions = {name: agent.x for name, agent in self.local.items()}
        self.snapshots: dict[str, list] = {}

    def make_evaluator(self, reference):
        return _DeploymentEvaluator(self, reference)

    def prices(self):
        return None

    def iterate(self, k: int) -> dict[str, float]:
        graph = self.active_graph(k)
        gamma = self.options.step_size
        mixed = self.runtime.mix(self.runtime.each(lambda name: self.local[name].estimate), graph)
        self.runtime.each(lambda name: self.local[name].step(gamma, mixed[name]))
        self.decisions = {name: agent.x for name, agent in self.local.items()}
        if k + 1 in SNAPSHOTS:
            self.snapshots[str(k + 1)] = positions_of(self.runtime, self.local, self.problem.n_agents).tolist()
        return {"step_size": gamma, "active_edges": float(graph.n_edges)}

    def finish(self) -> dict[str, object]:
        """The graph, the workspace and target (for the report) and the positions at the start, at
        :data:`SNAPSHOTS` and at the end."""
        final = positions_of(self.runtime, self.local, self.problem.n_agents).tolist()
        return {**self.graph_facts(), "layout": self.problem.layout(),
                "snapshots": {"0": self.problem.initial_positions().tolist(), **self.snapshots, "final": final}}

    def outcome(self, name: str) -> AgentOutcome:
        """The agent's final position; its cost is an equal share of the divergence (the network's, not its own),
        so the costs add up to the objective."""
        agent, problem = self.local[name], self.problem
        return AgentOutcome(kind=problem.agent(name).kind, labels=[("x", "m"), ("y", "m")],
                            values=agent.x.reshape(2, 1).copy(), cost=self.final_divergence / problem.n_agents,
                            contribution=np.zeros((0, 1)))


def positions_of(runtime, local: dict, n: int) -> np.ndarray:
    """Every agent's position (N, 2) on every process: each adds its own row (monitoring only)."""
    def row(name):
        out = np.zeros((n, 2))
        out[local[name].i] = local[name].x
        return out.ravel()

    return runtime.sum(runtime.each(row)).reshape(n, 2)


class _DeploymentEvaluator:
    """The true divergence of p(x), the stationarity, the tracking error and, with a reference, the cost gap and the
    relative distance of the positions to the reference's."""

    def __init__(self, driver: Macropt, reference):
        self.driver = driver
        self.reference_objective = reference.objective if reference is not None and reference.has_solution else None
        self.reference_positions = None
        if self.reference_objective is not None:
            table = reference.dispatch.pivot(index="agent", columns="quantity", values="value")
            self.reference_positions = table.loc[[a.name for a in driver.problem.agents], ["x", "y"]].to_numpy()

    def evaluate(self, subproblems, decisions) -> dict:
        driver, problem = self.driver, self.driver.problem
        positions = positions_of(driver.runtime, driver.local, problem.n_agents)
        kernels = problem.kernels(positions)  # once: the model, the divergence and the stationarity read them
        p = kernels.mean(axis=0)
        error = driver.runtime.maximum(driver.runtime.each(
            lambda name: np.array([np.linalg.norm(driver.local[name].estimate - p)])))[0]
        driver.final_divergence = problem.divergence(p)
        record = {"objective": driver.final_divergence, "max_violation": 0.0, "rel_violation": 0.0,
                  "stationarity": problem.stationarity(positions, kernels),
                  "tracking_error": float(error / max(np.linalg.norm(p), 1e-300))}
        if self.reference_objective is not None:
            record["cost_gap"] = abs(record["objective"] - self.reference_objective) / max(
                abs(self.reference_objective), 1e-12)
            record["distance"] = float(np.linalg.norm(positions - self.reference_positions)
                                       / max(np.linalg.norm(self.reference_positions), 1e-12))
        return record


__all__ = ["Macropt", "MacroptOptions", "positions_of"]

"""The comparator of online energy sharing: the best allocation of each round in hindsight, one LP on HiGHS
compiled once and re-solved per round (:class:`~ecodec.problem.OnlineSharingProblem`).

Per round t, with the round's drawn generation d and demand l (columns: every arc x_ij, then every shortfall q_j):

    min  sum_j |N_j+| / l_j,t  q_j                         (0 where l_j,t = 0)
    s.t. sum_{j in N_i+} x_ij <= d_i,t                    (hard constraint (2), one row per node)
         sum_{k in N_j+} x_kj + q_j >= l_j,t              (received energy, one row per node)
         0 <= x_ij <= xbar_i,  q_j >= 0

Its optimum is the least total loss sum_i f_i,t of the round (q_j = [l_j,t - E_j,t]_+ at an optimum).  Only the
row bounds and the costs of q change from round to round: the matrix is built once, and HiGHS re-solves from the
previous round's basis.  This is the same LP as :meth:`OnlineSharingProblem.centralized_model` (each node's
``build``) restricted to one round; the tests check that the two give the same optimum.  The allocation is not
unique in general (a surplus can be sent along several edges), so the path length P_T is that of the optimal
sequence HiGHS returns, warm-started round after round.

>>> from ecodec.models import Prosumer, TimeGrid
>>> from ecodec.network import CommunicationNetwork
>>> from ecodec.problem import OnlineSharingProblem
>>> nodes = [Prosumer("a", generation_kw=[4.0, 1.0], generation_noise=0.0, capacity_kw=4.0),
...          Prosumer("b", generation_kw=0.0, capacity_kw=4.0, generation_noise=0.0)]
>>> problem = OnlineSharingProblem(nodes, CommunicationNetwork.from_edges(["a", "b"], [("a", "b")]), TimeGrid(2, 1.0))
>>> sequence = comparator_sequence(problem, problem.environment(0))
>>> sequence.losses.round(6).tolist()     # round 2: 1 kW for a demand of 0.5 kW at each node: both served
[0.0, 0.0]
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from ecodec.errors import SolveError
from ecodec.solvers.matrix import MatrixProblem


@dataclass(frozen=True)
class ComparatorSequence:
    """The comparator of every round: its loss (T,), its allocation of every arc (T, arcs), its path length per
    node sum_t ||omega_i,t - omega_i,t-1|| (N,) and in total sum_t ||omega_t - omega_t-1||, and the solve time."""

    losses: np.ndarray
    allocations: np.ndarray
    path_length_per_node: np.ndarray
    path_length: float
    solve_time_s: float


class SharingComparator:
    """The per-round LP of the module docstring, compiled once for ``problem``."""

    def __init__(self, problem):
        self.problem = problem
        n, arcs = problem.n_agents, problem.n_arcs
        cols = np.arange(arcs)
        hard = sp.csr_array((np.ones(arcs), (problem.arc_sender, cols)), shape=(n, arcs + n))
        receive = sp.csr_array((np.ones(arcs + n), (np.concatenate([problem.arc_recipient, np.arange(n)]),
                                                    np.concatenate([cols, arcs + np.arange(n)]))),
                               shape=(n, arcs + n))
        upper = np.concatenate([problem.capacity_kw[problem.arc_sender], np.full(n, np.inf)])
        self.program = MatrixProblem(np.zeros(arcs + n), np.zeros(arcs + n), upper, sp.vstack([hard, receive]),
                                     np.full(2 * n, -np.inf), np.full(2 * n, np.inf), name="sharing comparator")
        self.hard_rows, self.receive_rows = np.arange(n), n + np.arange(n)
        self.shortfall_cols = arcs + np.arange(n)
        self.observers = problem.observers().astype(float)

    def solve_round(self, env, t: int) -> tuple[float, np.ndarray, float]:
        """(least total loss, allocation of every arc, solve time) of round t (0-based) of ``env``."""
        demand = env.demand_kw[:, t]
        n = demand.size
        self.program.set_row_bounds(self.hard_rows, np.full(n, -np.inf), env.generation_kw[:, t])
        self.program.set_row_bounds(self.receive_rows, demand, np.full(n, np.inf))
        safe = np.where(demand > 0, demand, 1.0)
        self.program.set_costs(self.shortfall_cols, np.where(demand > 0, self.observers / safe, 0.0))
        solution = self.program.solve()
        if not solution.has_solution:
            raise SolveError(f"the comparator LP of round {t + 1} ended '{solution.status}' (seed {env.seed})")
        return float(solution.objective), solution.x[: self.problem.n_arcs], solution.solve_time_s


def comparator_sequence(problem, env) -> ComparatorSequence:
    """The comparator of every round of ``env`` (see :class:`ComparatorSequence`)."""
    comparator = SharingComparator(problem)
    T = problem.grid.T
    losses, allocations, elapsed = np.zeros(T), np.zeros((T, problem.n_arcs)), 0.0
    for t in range(T):
        losses[t], allocations[t], seconds = comparator.solve_round(env, t)
        elapsed += seconds
    steps = np.diff(allocations, axis=0) if T > 1 else np.zeros((0, problem.n_arcs))
    per_node = np.array([np.linalg.norm(steps[:, a:b], axis=1).sum()
                         for a, b in zip(problem.arc_start[:-1], problem.arc_start[1:])])
    return ComparatorSequence(losses, allocations, per_node, float(np.linalg.norm(steps, axis=1).sum()), elapsed)


__all__ = ["ComparatorSequence", "SharingComparator", "comparator_sequence"]

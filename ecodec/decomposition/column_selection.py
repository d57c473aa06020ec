"""A coordinator's recovery of feasible schedules from the columns its agents have already sent (ecodec's addition
to the coordinator methods; used by ``tightening``).

At every iteration k of a coordinator method each agent i sends the coordinator its row values g_i(x_i^k) and
its cost f_i(x_i^k).  The distinct pairs an agent has sent are its *columns* c = 1..C_i, (g_ic, f_ic); the agent
keeps the decision x_ic of each.  Every ``column_selection_every`` iterations the coordinator picks one column per
agent by the selection MILP

    min  sum_i sum_c f_ic z_ic   s.t.  sum_c z_ic = 1 (every agent i),  sum_i sum_c g_ic z_ic <= b,  z_ic in {0, 1}

on the rows of the original problem (not the tightened ones).  Any solution is a point of the original problem
(each agent's part is one of its own feasible decisions, and the coupling holds), so its cost is an upper bound
UB on the optimum; the lower bound is untouched, so the certificate (UB - LB) / |UB| stays valid.  When it
improves UB, the coordinator sends each agent the index of its column (one number per agent) and the agents keep
those decisions as the incumbent.

This is the integer restricted master problem of Dantzig-Wolfe decomposition (the columns are the points of
conv(X_i) the price iteration has generated), solved as a heuristic: it needs no more messages than the method
already sends, and it does not change the prices, so the method's own theory (its finite-time feasibility,
its bounds) is unaffected.  The MILP stops at ``node_limit`` branch-and-bound nodes, a deterministic limit (a
time limit would make the result depend on the machine).

>>> pool = ColumnPool(["a", "b"])
>>> for name, g, f in [("a", [2.0], 1.0), ("a", [0.0], 3.0), ("b", [2.0], 1.0), ("b", [1.0], 2.0)]:
...     pool.add(name, np.array(g), f)
>>> cost, choice = pool.select(np.array([3.0]))   # a and b both want 2 units; only 3 are there
>>> cost, choice
(3.0, {'a': 0, 'b': 1})
"""

from __future__ import annotations

import logging

import numpy as np
import scipy.sparse as sp

from ecodec.solvers.matrix import MatrixProblem

log = logging.getLogger(__name__)


class AgentColumns:
    """Agent i's side: the distinct columns it has produced, each with its decision x_ic."""

    def __init__(self):
        self._index: dict[bytes, int] = {}
        self.decisions: list[np.ndarray] = []
        self.fresh: list[tuple[np.ndarray, float]] = []

    def offer(self, x: np.ndarray, values: np.ndarray, cost: float) -> None:
        """Keep (values, cost) as a new column unless it was produced before (compared to 1e-9, relative)."""
        scale = 1e-9 * max(1.0, float(np.max(np.abs(values), initial=0.0)), abs(cost))
        key = np.round(np.append(values, cost) / scale).astype(np.int64).tobytes()
        if key in self._index:
            return
        self._index[key] = len(self.decisions)
        self.decisions.append(np.array(x, copy=True))
        self.fresh.append((np.array(values, copy=True), float(cost)))

    def take_fresh(self) -> list[tuple[np.ndarray, float]]:
        """The columns produced since the last call, in order (what the coordinator has not stored yet: its
        column c of an agent is the agent's ``decisions[c]``)."""
        fresh, self.fresh = self.fresh, []
        return fresh


class ColumnPool:
    """The coordinator's side: every agent's columns and the selection MILP (module docstring)."""

    def __init__(self, agents, node_limit: int = 50, mip_rel_gap: float = 1e-4):
        self.agents = list(agents)
        self.values: dict[str, list[np.ndarray]] = {a: [] for a in self.agents}
        self.costs: dict[str, list[float]] = {a: [] for a in self.agents}
        self.node_limit, self.mip_rel_gap = node_limit, mip_rel_gap

    def add(self, agent: str, values: np.ndarray, cost: float) -> None:
        self.values[agent].append(np.asarray(values, dtype=float))
        self.costs[agent].append(float(cost))

    @property
    def size(self) -> int:
        return sum(len(c) for c in self.costs.values())

    def select(self, total: np.ndarray) -> tuple[float, dict[str, int]] | None:
        """The cheapest choice of one column per agent with sum of row values <= ``total``: (cost, {agent: column
        index}), or None when no choice found within the node limit meets the rows (or an agent has no column)."""
        if any(not self.costs[a] for a in self.agents):
            return None
        counts = [len(self.costs[a]) for a in self.agents]
        cost = np.concatenate([self.costs[a] for a in self.agents])
        g = np.vstack([np.vstack(self.values[a]) for a in self.agents]).T  # rows x columns
        owner = np.repeat(np.arange(len(self.agents)), counts)
        pick = sp.csr_array((np.ones(cost.size), (owner, np.arange(cost.size))), shape=(len(self.agents), cost.size))
        matrix = sp.vstack([pick, sp.csr_array(g)], format="csr")
        lower = np.concatenate([np.ones(len(self.agents)), np.full(g.shape[0], -np.inf)])
        upper = np.concatenate([np.ones(len(self.agents)), total])
        program = MatrixProblem(cost, np.zeros(cost.size), np.ones(cost.size), matrix, lower, upper,
                                integer=np.ones(cost.size, dtype=bool), name="column selection",
                                mip_rel_gap=self.mip_rel_gap, node_limit=self.node_limit)
        solution = program.solve()
        if not solution.has_solution:
            log.debug("column selection over %d columns: %s", cost.size, solution.status)
            return None
        chosen = np.flatnonzero(solution.x > 0.5)
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
        choice = {self.agents[int(owner[j])]: int(j - starts[owner[j]]) for j in chosen}
        value = float(sum(self.costs[a][c] for a, c in choice.items()))
        rows = sum(self.values[a][c] for a, c in choice.items())
        if len(choice) != len(self.agents) or np.any(rows > total + 1e-9 * max(1.0, float(np.max(np.abs(total))))):
            return None
        return value, choice


__all__ = ["AgentColumns", "ColumnPool"]

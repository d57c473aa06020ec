"""What the fully distributed methods on a fixed or time-varying graph share (``tracking-admm``, ``proximal-dual``,
and the graph schedule of ``primal-decomposition``).

Set-up: the coupling rows, the graph schedule of the method's options, every agent's compiled program, and the
scale Lambda / S of their steps: Lambda = max_i Lambda_i, the largest cost per unit of coupling contribution
(:func:`~ecodec.decomposition.priced_agent.price_scale`, a max-consensus over the agents, counted as one message
per agent), S the largest |b_k|, or, when every right-hand side is 0 (a network that balances itself, as the
district cooling network: :func:`contribution_reach`), the largest contribution an agent's bounds allow to one row,
by the same max-consensus.  Per iteration: the graph active at k (its connectivity window checked) and the
consensus mix  sum_j a_ij(k) v_j  of what the neighbours sent (the runtime's ``mix``, which adds the terms in agent
order so that every runtime gives the same floats).  Prices: the agents' mean multiplier estimate per row (they
agree at convergence).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ecodec.decomposition.coupling_rows import CouplingRows
from ecodec.decomposition.driver import Driver
from ecodec.solvers.compiled import CompiledSubproblem


def contribution_reach(sub: CompiledSubproblem, rows: CouplingRows) -> float:
    """The largest |g_i,k(x)| the column bounds of agent i allow on any coupling row k: sum_j |G_kj| max(|l_j|,
    |u_j|) + |g0_k| over its bounded columns (an unbounded column adds nothing); the size of the rows when their
    right-hand sides give none."""
    g, g0 = rows.local_rows(sub)
    lower, upper = sub.column_bounds()
    size = np.maximum(np.abs(lower), np.abs(upper))
    size[~np.isfinite(size)] = 0.0
    return float(np.max(np.abs(g) @ size + np.abs(g0), initial=0.0))


def penalty_scale(size: float, reach: float) -> float:
    """S_c = min(S, R), the row scale a penalty c = penalty x Lambda / S_c is measured against: ``size`` S the
    coupling's size (the largest |b_k|), capped by ``reach`` R, the largest contribution one agent's bounds allow to
    a row (S itself when R is 0), so that c does not shrink as the number of agents grows.

    >>> penalty_scale(500.0, 5.0), penalty_scale(300.0, 800.0), penalty_scale(4.0, 0.0)
    (5.0, 300.0, 4.0)
    """
    return min(size, reach) if reach > 0 else size


class NeighbourDriver(Driver):
    """Base of the graph methods; subclasses keep their agents in ``self.local`` (each with ``price_scale`` and
    ``lam``)."""

    def compile_agents(self, make_agent: Callable[[CompiledSubproblem], object], mip_rel_gap: float = 1e-6) -> float:
        """Compile every local agent (``mip_rel_gap``: the relative MIP gap of a mixed-integer agent's solves),
        build it with ``make_agent``; returns Lambda / S."""
        self.rows = CouplingRows.from_problem(self.problem)
        self.start_schedule()
        self.local: dict = {}

        balanced = not np.any(self.rows.total)  # every agent knows the right-hand sides

        def compile_one(name):
            sub = self.compile_subproblem(name, mip_rel_gap)
            self.local[name] = make_agent(sub)
            scales = [self.local[name].price_scale] + ([contribution_reach(sub, self.rows)] if balanced else [])
            return np.array(scales)

        largest = self.runtime.maximum(self.runtime.each(compile_one), count=True)
        rows_scale = float(largest[1]) if balanced else float(np.max(np.abs(self.rows.total), initial=0.0))
        self.scale = max(rows_scale, 1e-9)
        return max(float(largest[0]), 1e-12) / self.scale

    def start_schedule(self) -> None:
        """The graph schedule of the method's options over the case's network."""
        self.schedule = self.options.schedule(self.runtime.network)
        self.broken_windows: list[str] = []

    def active_graph(self, k: int):
        """The graph of iteration k; a failed connectivity window is kept for the run's warnings."""
        broken = self.schedule.window_check(k)
        if broken:
            self.broken_windows.append(broken)
        return self.schedule.at(k)

    def graph_facts(self) -> dict[str, object]:
        if self.broken_windows:
            self.warnings.append(f"{len(self.broken_windows)} connectivity window(s) failed; the first: "
                                 f"{self.broken_windows[0]}")
        return {"graph": self.schedule.describe()}

    def prices(self) -> np.ndarray:
        total = self.runtime.sum(self.runtime.each(lambda name: self.local[name].lam))
        return self.rows.prices(total / len(self.problem.agents), self.problem.grid.step_h)

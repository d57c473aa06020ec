"""What the fully distributed methods on a fixed or time-varying graph share (``tracking-admm``, ``proximal-dual``,
and the graph schedule of ``primal-decomposition``).

Set-up: the coupling rows, the graph schedule of the method's options, every agent's compiled program, and the
scale Lambda / S of their steps: Lambda = max_i Lambda_i, the largest cost per unit of coupling contribution
(:func:`~ecodec.decomposition.priced_agent.price_scale`, a max-consensus over the agents, counted as one message
per agent), S the largest |b_k|.  Per iteration: the graph active at k (its connectivity window checked) and the
consensus mix  sum_j a_ij(k) v_j  of what the neighbours sent, added in agent order so that every runtime gives the
same floats.  Prices: the agents' mean multiplier estimate per row (they agree at convergence).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np

from ecodec.decomposition.coupling_rows import CouplingRows
from ecodec.decomposition.driver import Driver
from ecodec.solvers.compiled import CompiledSubproblem


def consensus_mix(weights: Mapping[str, float], own: str, own_value: np.ndarray,
                  inbox: Mapping[str, np.ndarray]) -> np.ndarray:
    """sum_j a_ij v_j over ``weights`` (agent i's row, itself included), added in the row's agent order."""
    mixed = None
    for j, w in weights.items():
        term = w * (own_value if j == own else inbox[j])
        mixed = term if mixed is None else mixed + term
    return mixed


class NeighbourDriver(Driver):
    """Base of the graph methods; subclasses keep their agents in ``self.local`` (each with ``price_scale`` and
    ``lam``)."""

    def compile_agents(self, make_agent: Callable[[CompiledSubproblem], object]) -> float:
        """Compile every local agent, build it with ``make_agent``; returns Lambda / S."""
        self.rows = CouplingRows.from_problem(self.problem)
        self.start_schedule()
        self.local: dict = {}

        def compile_one(name):
            sub = CompiledSubproblem(self.problem, name, mip_rel_gap=self.options.mip_rel_gap)
            self.subproblems[name] = sub
            self.local[name] = make_agent(sub)
            return np.array([self.local[name].price_scale])

        largest = self.runtime.maximum(self.runtime.each(compile_one), count=True)
        self.scale = max(float(np.max(np.abs(self.rows.total), initial=0.0)), 1e-9)
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

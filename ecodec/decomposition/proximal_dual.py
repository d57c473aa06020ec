"""Proximal dual decomposition (Falsone, Margellos, Garatti, Prandini, "Dual decomposition for multi-agent
distributed optimization with coupling constraints", Automatica 84, 2017; ALGORITHMS.md section 5): fully
distributed, the agents agree on the prices by consensus, no coordinator.

Coupled problem:  min sum_i f_i(x_i)  s.t.  x_i in X_i,  sum_i g_i(x_i) (== or <=) 0  with the coupling rows of
:class:`CouplingRows` and each agent's share of the right-hand side:  g_i(x) = G_i x + g0_i - b / N.

Per iteration k, agent i, with the consensus weights a_ij(k) of the graph active at k (Metropolis-Hastings, self
included):

    l_i        = sum_j a_ij(k) lambda_j(k)                                    (one message: lambda_j)
    x_i(k+1)   = argmin_{x in X_i}  f_i(x) + l_i' g_i(x)                     (an LP or MILP: the local Lagrangian)
    lambda_i(k+1) = argmax_{lambda in D}  g_i(x_i(k+1))' lambda - ||lambda - l_i||^2 / (2 c(k))
                  = P_D[ l_i + c(k) g_i(x_i(k+1)) ]                          (the proximal dual step)

D the multipliers' domain: >= 0 on inequality rows, free on equality rows (P_D clips the inequality rows at 0).
The step c(k) = step_size x Lambda / (S (k + 1)^step_decay) is non-increasing with sum c(k) = inf and
sum c(k)^2 < inf for step_decay in (0.5, 1] (Lambda the largest cost per unit of coupling contribution over the
agents' columns, by max-consensus; S the largest |b_k|, or when every b_k is 0 the rows' reach,
:func:`~ecodec.decomposition.neighbour_driver.contribution_reach`).  Primal recovery is the c-weighted running
average

    xhat_i(k+1) = xhat_i(k) + c(k) / (sum_{r <= k} c(r)) (x_i(k+1) - xhat_i(k)),

which converges to an optimal solution of a convex problem while the last iterate x_i(k) in general does not
(a linear Lagrangian is minimised at a vertex: the iterates jump between vertices).  The theory holds on
time-varying graphs whose union over every window of B iterations is connected.

Which average (``average``; ecodec's addition, the reference's average is ``running`` from K0 = 0).  The
c-weighted average from 0 gives the first iterations, taken at prices far from the optimal ones and with the
largest steps, the largest weights, and it stays dominated by them for thousands of iterations.  ecodec's default
``doubling`` average restarts at K0, 2 K0, 4 K0, ... (K0 = ``average_from``) and reports, at iteration k in
[2^m K0, 2^(m+1) K0), the c-weighted average over [2^(m-1) K0, k]: always at least the last half of the run, so
early iterations are forgotten at the pace of the run.  The convergence argument applies to every window: the
iteration where a window starts is a valid first iteration (with the multipliers it finds as initial values), and
the sum of the steps over a window, about (2^m K0)^(1 - step_decay), grows without bound.  ``running`` averages
once from K0.

Measured on the shipped LP microgrid (iterations to a 1% cost gap and 1% coupling violation, step_size 3):

=================================================  ===================  ===================
average                                            fixed graph          random edges p=0.5
=================================================  ===================  ===================
running from 0, step_decay 0.6 (the reference)     > 5000 (gap 2.8%,    -
                                                   violation 3.8%)
running from 500, step_decay 0.51                  about 8000           > 20000 (gap 1.5%)
doubling from 250, step_decay 0.51                 4057                 16001
doubling from 250, step_decay 0.6 (the default)    4527                 5734
=================================================  ===================  ===================

=========  ==========================  ============================================================================
symbol     option / name               meaning
=========  ==========================  ============================================================================
c(k)       ``step_size``,              step_size is relative to Lambda / S (dimensionless)
           ``step_decay``
K0         ``average``,                which average, and the iteration where it starts (its first window)
           ``average_from``
a_ij(k)    ``graph`` and its options   fixed, random or periodic graphs (:mod:`ecodec.network.time_varying`)
=========  ==========================  ============================================================================

Numbers against the number of agents N: the local program is an LP priced at l_i, whose prices are of the size
of Lambda whatever N; measured on the LP fleets of ``ecodec generate pev`` (seed 0, 5 iterations, all agents):
costs 0.0226-0.0564 at N = 100 and 0.0203-0.0565 at N = 400, bounds 1-16 and matrix entries 0.94-1.63 at both.
What scales with N is the dual step (c(0) = 3.4e-4 and 8.5e-5 there, as 1 / S) times an agent's own residual,
so each price moves by about Lambda / N per iteration: the solves do not depend on N, the pace does.  Local
solves and their retries: :func:`~ecodec.decomposition.local_solve.solve_local`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ecodec.decomposition.coupling_rows import CouplingRows
from ecodec.decomposition.neighbour_driver import NeighbourDriver
from ecodec.decomposition.options import TimeVaryingGraphOptions, decay_option, mip_gap_option, option
from ecodec.decomposition.priced_agent import PricedAgent, perturbation_option
from ecodec.decomposition.registry import Column, MethodSpec, register
from ecodec.decomposition.stopping import Tolerance
from ecodec.declarations import Rule
from ecodec.solvers.compiled import CompiledSubproblem

METHOD = "proximal-dual"


@dataclass(frozen=True)
class ProximalDualOptions(TimeVaryingGraphOptions):
    """Proximal dual decomposition: ``step_size`` and ``step_decay`` of c(k), ``average`` ('doubling' or
    'running') and ``average_from`` (K0, where the average starts), the tie-breaking ``perturbation`` and
    ``seed`` of integer columns, ``mip_rel_gap`` of each agent's MILP, and the graph options."""

    method = METHOD
    step_size: float = option(3.0, "-", "c(k) at k = 0, relative to Lambda / S", lower=0.0, lower_open=True)
    step_decay: float = decay_option()
    perturbation: float = perturbation_option(1e-2)
    seed: int = option(0, "-", "seed of the tie-breaking perturbation", lower=0)
    mip_rel_gap: float = mip_gap_option()
    average: str = option("doubling", "-", "primal recovery: doubling (windows restarting at K0, 2 K0, 4 K0, ...) or "
                          "running (one average from K0)", choices=("doubling", "running"))
    average_from: int = option(250, "iterations", "K0, the iteration where the average starts (its first window)",
                               lower=0)

    rules = (Rule(("average_from", "average"), lambda v: v["average"] != "doubling" or v["average_from"] >= 1,
                  "a whole number >= 1 (the first window of the doubling average) when average is 'doubling'"),)


class _DualAgent:
    """Agent i: its priced program, its multiplier estimate lambda_i and its running average xhat_i."""

    state_attributes = ("lam", "x", "average", "newer", "priced.x")  # what a checkpoint keeps

    def __init__(self, sub: CompiledSubproblem, rows: CouplingRows, n_agents: int, options: ProximalDualOptions):
        self.priced = PricedAgent(sub, rows, options.perturbation, options.seed)
        self.price_scale = self.priced.price_scale
        self.share = rows.total / n_agents
        self.inequality = ~rows.equality
        self.lam = np.zeros(rows.size)
        self.x: np.ndarray | None = None
        self.average: np.ndarray | None = None
        self.newer: np.ndarray | None = None

    def step(self, mixed: np.ndarray, c: float, k: int = 0) -> None:
        """l_i = ``mixed`` (the neighbours' weighted multipliers), the local Lagrangian's minimiser and the proximal
        dual step (``k`` names the iteration in the error of a local problem without a solution)."""
        self.priced.solve(mixed, method=METHOD, iteration=k + 1, numbers={"c(k)": c})
        self.x = self.priced.x
        value = self.priced.row_values(self.x) - self.share
        lam = mixed + c * value
        lam[self.inequality] = np.maximum(lam[self.inequality], 0.0)
        self.lam = lam

    def accumulate(self, weight: float, newer_weight: float | None) -> None:
        """xhat += weight (x - xhat) for the reported average (and the newer one of a doubling window), weight =
        c(k) / (sum of c(r) over the average's window)."""
        self.average = self.x.copy() if self.average is None else self.average + weight * (self.x - self.average)
        if newer_weight is not None:
            self.newer = self.x.copy() if self.newer is None else self.newer + newer_weight * (self.x - self.newer)

    def restart(self, keep_newer: bool) -> None:
        """A new window: the reported average becomes the newer one (doubling) or starts again (running)."""
        self.average, self.newer = (self.newer, None) if keep_newer else (None, None)

    def evaluation(self) -> np.ndarray:
        """[f_i(x), f_i(xhat), g_i(x), g_i(xhat)] (row values without the share) for the history."""
        sub = self.priced.sub
        return np.concatenate([[sub.cost(self.x), sub.cost(self.average)], self.priced.row_values(self.x),
                               self.priced.row_values(self.average)])


def _is_doubling_start(k: int, start: int) -> bool:
    """k = K0 2^m for some m >= 0."""
    windows, rest = divmod(k, start)
    return rest == 0 and windows >= 1 and windows & (windows - 1) == 0


@register(MethodSpec(
    METHOD, "proximal dual decomposition: agents agree on the prices by consensus, primal recovery by a running "
    "average (no coordinator)", kinds=("coupled",), options=ProximalDualOptions, stopping=(Tolerance(),), columns=(
        Column("step_size", "c(k), the proximal dual step"),
        Column("active_edges", "edges of the graph active at this iteration"),
        Column("last_objective", "cost of the last iterate"),
        Column("last_rel_violation", "relative coupling violation of the last iterate"),
        Column("average_objective", "cost of the averaged decisions"),
        Column("average_rel_violation", "relative coupling violation of the averaged decisions"))))
class ProximalDual(NeighbourDriver):
    """Proximal dual decomposition; the math is in the module docstring."""

    state_attributes = ("step_sum", "newer_sum", "broken_windows")

    def setup(self) -> None:
        n_agents = len(self.problem.agents)
        self.c0 = self.options.step_size * self.compile_agents(
            lambda sub: _DualAgent(sub, self.rows, n_agents, self.options), self.options.mip_rel_gap)
        self.mixed = self.problem.is_mixed_integer()
        self.step_sum, self.newer_sum = 0.0, None

    def _window(self, k: int) -> None:
        """Restart the averages where the option says: at K0 (running), or at K0, 2 K0, 4 K0, ... (doubling)."""
        start = self.options.average_from
        if self.options.average == "running":
            if k == start and k > 0:
                self.step_sum = 0.0
                self.runtime.each(lambda name: self.local[name].restart(keep_newer=False))
        elif _is_doubling_start(k, start):
            if self.newer_sum is not None:
                self.step_sum = self.newer_sum
                self.runtime.each(lambda name: self.local[name].restart(keep_newer=True))
            self.newer_sum = 0.0

    def iterate(self, k: int) -> dict[str, float]:
        c = self.c0 / (k + 1) ** self.options.step_decay
        self._window(k)
        graph = self.active_graph(k)
        mixed = self.runtime.mix(self.runtime.each(lambda name: self.local[name].lam), graph)
        self.runtime.each(lambda name: self.local[name].step(mixed[name], c, k))
        self.step_sum += c
        if self.newer_sum is not None:
            self.newer_sum += c
        weight, newer = c / self.step_sum, (None if self.newer_sum is None else c / self.newer_sum)
        self.runtime.each(lambda name: self.local[name].accumulate(weight, newer))
        self.decisions = {name: (agent.x if self.mixed else agent.average) for name, agent in self.local.items()}
        p = self.rows.size
        total = self.runtime.sum(self.runtime.each(lambda name: self.local[name].evaluation()))
        last, average = total[2:2 + p] - self.rows.total, total[2 + p:] - self.rows.total
        return {"step_size": c, "active_edges": float(graph.n_edges),
                "last_objective": float(total[0]), "last_rel_violation": self.rows.relative_violation(last),
                "average_objective": float(total[1]), "average_rel_violation": self.rows.relative_violation(average)}

    def finish(self) -> dict[str, object]:
        facts: dict[str, object] = {
            "primal_recovery": "last iterate (integer agents)" if self.mixed
            else f"{self.options.average} average from iteration {self.options.average_from}",
            **self.graph_facts()}
        return facts


__all__ = ["ProximalDual", "ProximalDualOptions"]

"""Dual subgradient: a coordinator prices the coupling, every agent answers with its priced decision.  The smallest
complete method, and the template for a new one (docs/howto_add_method.md): copy this module, keep its parts.

Coupled problem:  min sum_i f_i(x_i)  s.t.  x_i in X_i,  coupling rows  sum_i g_i(x_i) (== or <=) b  written as in
:mod:`ecodec.decomposition.coupling_rows` (a band is two inequality rows), g_i(x) = G_i x + g0_i affine.  The
coordinator keeps one price lambda_k per row, free on equality rows and >= 0 on inequality rows (the set D).
Iteration k (from lambda^0 = 0):

1. every agent i solves its Lagrangian subproblem and sends g_i(x_i^k) (one message per agent):

       x_i^k = argmin_{x in X_i}  f_i(x) + lambda^k' g_i(x);

2. the coordinator updates the prices along the subgradient of the dual function, the coupling residual, and
   broadcasts them:

       lambda^{k+1} = P_D[ lambda^k + a_k (sum_i g_i(x_i^k) - b) ],   a_k = step_size Lambda / (S (k + 1)^step_decay),

   Lambda the largest cost per unit of coupling contribution over the agents' columns (a max-consensus) and S the
   largest |b_k|: the first move of a price is about step_size x Lambda x (residual / S), so ``step_size`` needs no
   change with the case's units;
3. primal recovery: the last iterate of a linear Lagrangian jumps between vertices and in general never meets the
   coupling, so the decisions reported are a_k-weighted averages of the iterates, which converge to an optimal
   solution of a convex problem when sum a_k = inf and sum a_k^2 < inf (step_decay in (0.5, 1]).  The average
   restarts at k = 2, 4, 8, ...: at iteration k in [2^m, 2^(m+1)) it is the a_k-weighted average over
   [2^(m-1), k], always at least the last half of the run, so the first iterations, taken at prices far from the
   optimal ones, are forgotten at the pace of the run (the ``doubling`` average of
   :mod:`~ecodec.decomposition.proximal_dual`; measured on two grid suppliers serving 50 and 80 kW, an average
   from iteration 0 was still 0.7% from the optimal cost after 20000 iterations, the restarted one reached 0.05%
   in 165).  With integer agents an
   average is not a decision of X_i: the last iterate is reported instead (a heuristic; tightening and dualbi are
   the methods for those).

=============  ==========================  ======================================================================
symbol         option / column             meaning
=============  ==========================  ======================================================================
a_k            ``step_size``,              price step (column ``step_size``)
               ``step_decay``
lambda^k       column ``max_price``        max_k |lambda_k| after the update
(last)         ``last_rel_violation``      relative coupling violation of the last iterate x^k (the loop's
                                           ``rel_violation`` is that of the reported average)
=============  ==========================  ======================================================================

What makes it a method (the contract): options declared with :func:`~ecodec.decomposition.options.option`; one
:class:`~ecodec.decomposition.driver.Driver` whose ``setup`` compiles each agent's subproblem once and whose
``iterate`` is what every agent and the coordinator do in iteration k, written against the runtime (``each``,
``sum``, ``count_broadcast``) so it runs in one process and on MPI ranks alike; and one registration
(:func:`~ecodec.decomposition.registry.register`) naming the problem kinds it solves, its history columns and its
stopping rules.  To be resumable (``ecodec run ... --resume``), ``state_attributes`` on the driver and on its agent
class name what changes from one iteration to the next (:mod:`~ecodec.decomposition.state`).  Every local solve
goes through :func:`~ecodec.decomposition.local_solve.solve_local` (one retry order, an error naming the method,
the agent, the iteration and the numbers when none works).

Numbers against the number of agents N: a_k scales as 1 / S and the residual as N, so a price's move, and with it
the priced LP, does not grow with N; measured on the LP fleets of ``ecodec generate pev`` (seed 0, 5 iterations,
all agents): costs 0.0277-0.114 at N = 100 and 0.0195-0.113 at N = 400, bounds 1-16, matrix entries 0.94-1.63.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ecodec.decomposition.coupling_rows import CouplingRows
from ecodec.decomposition.driver import Driver
from ecodec.decomposition.options import MethodOptions, decay_option, mip_gap_option, option
from ecodec.decomposition.priced_agent import PricedAgent
from ecodec.decomposition.registry import Column, MethodSpec, register
from ecodec.decomposition.stopping import Tolerance
from ecodec.solvers.compiled import CompiledSubproblem

METHOD = "dual-subgradient"


@dataclass(frozen=True)
class DualSubgradientOptions(MethodOptions):
    """Dual subgradient: ``step_size`` and ``step_decay`` of the price step a_k, ``mip_rel_gap`` of each agent's
    MILP."""

    method = METHOD
    step_size: float = option(1.0, "-", "price step a_0 relative to Lambda / S", lower=0.0, lower_open=True)
    step_decay: float = decay_option(0.6)
    mip_rel_gap: float = mip_gap_option()


class _Agent:
    """Agent i: its priced program (no perturbation) and its weighted averages of decisions (see the module
    docstring: the reported one, and the newer one that replaces it at the next restart)."""

    #: What a checkpoint keeps of the agent (its program's state is kept without asking): what changes per iteration
    state_attributes = ("average", "newer", "priced.x")

    def __init__(self, sub: CompiledSubproblem, rows: CouplingRows):
        self.priced = PricedAgent(sub, rows, perturbation=0.0, seed=0)
        self.average: np.ndarray | None = None
        self.newer: np.ndarray | None = None

    def step(self, price: np.ndarray, weights: tuple[float, float], restart: bool, k: int = 0,
             step: float = 0.0) -> np.ndarray:
        """x_i(lambda), and both averages moved towards it; the message: g_i(x_i).  ``k`` and ``step`` (a_k) name
        the iteration in the error of a local problem without a solution
        (:func:`~ecodec.decomposition.local_solve.solve_local`)."""
        if restart:
            self.average, self.newer = self.newer, None
        self.priced.solve(price, method=METHOD, iteration=k + 1, numbers={"a_k": step})
        x = self.priced.x
        self.average = x.copy() if self.average is None else self.average + weights[0] * (x - self.average)
        self.newer = x.copy() if self.newer is None else self.newer + weights[1] * (x - self.newer)
        return self.priced.row_values(x)


@register(MethodSpec(
    METHOD, "dual subgradient with a coordinator and averaged decisions: the method template "
    "(ecodec/decomposition/method_template.py)", kinds=("coupled",), options=DualSubgradientOptions,
    stopping=(Tolerance(),), columns=(
        Column("step_size", "a_k, the price step"), Column("max_price", "largest |lambda_k| after the update"),
        Column("last_rel_violation", "relative coupling violation of the last iterate"))))
class DualSubgradient(Driver):
    """See the module docstring."""

    #: What a checkpoint keeps of the method (``ecodec run ... --resume``): what changes per iteration; what setup()
    #: computes from the case and the options (step0, the rows) is computed again by a resumed run
    state_attributes = ("price", "sums")

    def setup(self) -> None:
        self.rows = CouplingRows.from_problem(self.problem)
        self.local: dict[str, _Agent] = {}

        def compile_one(name):
            sub = self.compile_subproblem(name, self.options.mip_rel_gap)
            self.local[name] = _Agent(sub, self.rows)
            return np.array([self.local[name].priced.price_scale])

        largest = float(self.runtime.maximum(self.runtime.each(compile_one), count=True)[0])
        scale = max(float(np.max(np.abs(self.rows.total), initial=0.0)), 1e-9)
        self.step0 = self.options.step_size * max(largest, 1e-12) / scale
        self.price = np.zeros(self.rows.size)
        self.sums = (0.0, 0.0)  # sum of the steps over the reported average's window and the newer one's
        self.mixed = self.problem.is_mixed_integer()

    def iterate(self, k: int) -> dict[str, float]:
        step = self.step0 / (k + 1) ** self.options.step_decay
        restart = k >= 2 and k & (k - 1) == 0  # k = 2, 4, 8, ...: the newer average becomes the reported one
        if restart:
            self.sums = (self.sums[1], 0.0)
        self.sums = (self.sums[0] + step, self.sums[1] + step)
        price, weights = self.price, (step / self.sums[0], step / self.sums[1])
        replies = self.runtime.each(lambda name: self.local[name].step(price, weights, restart, k, step))
        residual = self.runtime.sum(replies, count=True) - self.rows.total
        self.decisions = {name: agent.priced.x if self.mixed else agent.average for name, agent in self.local.items()}
        price = price + step * residual
        price[~self.rows.equality] = np.maximum(price[~self.rows.equality], 0.0)
        self.price = price
        self.runtime.count_broadcast(self.rows.size)
        return {"step_size": step, "max_price": float(np.max(np.abs(price), initial=0.0)),
                "last_rel_violation": self.rows.relative_violation(residual)}

    def prices(self) -> np.ndarray:
        return self.rows.prices(self.price, self.problem.grid.step_h)


__all__ = ["DualSubgradient", "DualSubgradientOptions"]

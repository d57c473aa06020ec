"""DualBi: bisection on the dual of a problem with one scalar coupling row, with a feasible, improving incumbent.

Source: Manieri, Falsone, Prandini (2024), "DualBi", arXiv:2402.03013 (ALGORITHMS.md section 4; the steps below are
ecodec's reading of the method, checked against the properties it states).

The coupling must be a single inequality row (:class:`CouplingRows`), e.g. a fleet's total-energy budget declared
with scope 'horizon' on the workbook's resources sheet:  g(x) = sum_i g_i(x_i) <= b,  g_i(x) = G_i x + g0_i.
With the Lagrangian L(x, lambda) = sum_i f_i(x_i) + lambda (g(x) - b), lambda >= 0 scalar, and
x(lambda) = argmin_{x in X} L(x, lambda) (each agent minimises its own  f_i + lambda g_i, a MILP, with the seeded
cost perturbation of :class:`PricedAgent` for deterministic tie-breaking), the row value g(x(lambda)) does not
increase with lambda and the dual function phi(lambda) = L(x(lambda), lambda) is a lower bound on the optimum.

==========  ===============================================================================================
symbol      meaning
==========  ===============================================================================================
lambda_k    the price the coordinator broadcasts at iteration k (one number)
[lo, hi]    the bracket: g(x(lo)) > b (lo = 0 at first), g(x(hi)) <= b once an upper end is known
Lambda      the largest cost per unit of row contribution over the agents' columns (first trial upper end)
L~_i, D_i   the solver's bound of agent i's perturbed priced program, and its perturbation shift
LB, UB      lower bound  max_k sum_i (L~_i - D_i) - lambda_k b;  upper bound: the incumbent's cost
==========  ===============================================================================================

Iteration k: the coordinator sends lambda_k (k = 0: lambda_0 = 0); every agent solves and sends g_i(x_i), f_i(x_i)
and L~_i - D_i (one message); the coordinator

1. raises LB with phi at lambda_k;
2. if g(x(lambda_k)) <= b: x(lambda_k) is feasible: hi = lambda_k, and when f(x(lambda_k)) < UB it becomes the
   incumbent (so UB never increases, and from the first upper end on there is always a feasible incumbent);
   k = 0 feasible means x(0) is optimal up to the perturbation (LB and UB then meet within sum_i D_i);
   otherwise lo = lambda_k;
3. picks lambda_{k+1}: while no upper end is known, Lambda, then twice the last trial (expansion, ``phase`` 0 in
   the history); then the midpoint (lo + hi) / 2 (bisection, ``phase`` 1).

It stops when the certified gap (UB - LB) / |UB| <= gap_tol, when the bracket is closed (hi - lo <= 1e-12 hi:
no price left between a point that violates the row and one that meets it), or by the shared stopping rules.
If the row cannot be met even when every agent minimises its own g_i (the least of the LP relaxations, summed,
exceeds b), or no upper end is found after ``max_expansions`` doublings, the run ends with status ``infeasible``
and a message.  The decisions returned are the incumbent's.

Replies without a solve (option ``reuse_decisions``; designed for ecodec, not in the paper).  Each agent keeps the
prices it solved at, with its decisions and reply.  For fixed x, L_i(x, lambda) = f~_i(x) + lambda g_i(x) is affine
in lambda, and phi~_i(lambda) = min_{X_i} L_i(., lambda) is concave.  If the same x_i is optimal at two solved prices
a < c, then for b = (1 - w) a + w c, w in (0, 1):

    L_i(x_i, b) = (1 - w) phi~_i(a) + w phi~_i(c) <= phi~_i(b) <= L_i(x_i, b),

so x_i is optimal at b (its reply g_i(x_i), f_i(x_i) is the one solved at a), and the solver's bounds at a and c
interpolated the same way bound phi~_i(b) from below (concavity).  With solves to a relative MIP gap, x_i stays
within the larger of the two gaps.  An agent therefore answers without a solve a price it solved at before, and a
price between its two nearest solved prices when they gave it bit-for-bit the same decisions.  In the bisection
both ends of the bracket are prices every agent solved at, so after a few rounds only the agents whose decisions
change inside the bracket still solve (measured: docs/dualbi_round.md).  Option ``warm_start`` (also ecodec's):
a solve gets the decisions of the agent's nearest solved price as the MILP's first incumbent (branch and bound
prunes against it from the start; HiGHS ignores it when infeasible); its solution and bound stay within the MIP
gap of a solve without it.

Numbers against the number of agents N: the prices tried are Lambda 2^m and midpoints of the bracket, of the size
of one agent's cost per unit whatever N; measured on the budget fleet of ``ecodec generate pev --coupling budget``
(N = 100, seed 0, 5 iterations, all agents): costs 0.0233-0.0635, bounds 1-15.9, matrix entries 0.94-1.59.  Local
solves: :func:`~ecodec.decomposition.local_solve.solve_local`.
"""

from __future__ import annotations

import bisect
import logging
from dataclasses import dataclass

import numpy as np

from ecodec.decomposition.coupling_rows import CouplingRows
from ecodec.decomposition.driver import Driver
from ecodec.decomposition.options import option
from ecodec.decomposition.priced_agent import (COORDINATOR_COLUMNS, COORDINATOR_PROGRESS, Certificate, PricedAgent,
                                               PricedOptions, perturbation_option)
from ecodec.decomposition.registry import Column, MethodSpec, register
from ecodec.decomposition.stopping import CertifiedGap, LoopState, StoppingRule, Tolerance
from ecodec.declarations import NUMBER
from ecodec.errors import ProblemError
from ecodec.solvers.compiled import CompiledSubproblem

log = logging.getLogger(__name__)

METHOD = "dualbi"
EXPAND, BISECT = 0.0, 1.0  # the history's ``phase`` column


@dataclass(frozen=True)
class DualBiOptions(PricedOptions):
    """DualBi on one scalar coupling row.

    ``gap_tol``: stop when (UB - LB) / |UB| reaches it; ``perturbation``: relative cost perturbation of integer
    columns for tie-breaking (it also loosens LB by at most sum_i D_i); ``seed``: its seed; ``price_start``: the
    first trial upper end (None: Lambda, see the module docstring); ``max_expansions``: doublings allowed in
    search of a feasible upper end; ``mip_rel_gap``: of each agent's MILP; ``reuse_decisions`` and ``warm_start``:
    replies without a solve and first incumbents (module docstring).
    """

    method = METHOD
    gap_tol: float = option(1e-3, "-", "stop when the certified gap (UB - LB) / |UB| is at most this", lower=0.0,
                            lower_open=True)
    perturbation: float = perturbation_option(1e-4)
    price_start: float | None = option(None, "currency per row unit", "first trial upper end of the price bracket "
                                       "(none: Lambda)", lower=0.0, lower_open=True, optional=True, dtype=NUMBER)
    max_expansions: int = option(60, "-", "doublings of the price allowed in search of a feasible upper end", lower=1)
    reuse_decisions: bool = option(True, "-", "skip the solve of an agent at a price between two it solved at with the "
                                   "same decisions (they stay optimal between) or at a price it solved at before")
    warm_start: bool = option(True, "-", "give each agent's MILP the decisions it solved at the nearest price as its "
                              "first incumbent")


class _UnpricedOptimal(StoppingRule):
    """x(0) meets the row: the unpriced decisions are optimal (up to the perturbation)."""

    name = "unpriced optimal"
    description = "the decisions at price 0 meet the coupling row: optimal up to the tie-breaking perturbation"

    def check(self, state: LoopState) -> str | None:
        driver, cert = state.driver, state.driver.certificate
        if driver.closed and driver.hi == 0.0:
            return (f"the unpriced decisions meet the coupling row: optimal (cost {cert.upper:.6g}, lower bound "
                    f"{cert.lower:.6g}, apart by the tie-breaking perturbation only)")
        return None


class _BracketClosed(StoppingRule):
    """No price is left between one that violates the row and one that meets it."""

    name = "bracket closed"
    description = "hi - lo <= 1e-12 hi with a feasible incumbent: no price left to try"

    def check(self, state: LoopState) -> str | None:
        driver, cert = state.driver, state.driver.certificate
        if driver.closed and cert.has_incumbent:
            return (f"the price bracket has closed at {driver.hi:.6g}: best feasible cost {cert.upper:.6g}, "
                    f"lower bound {cert.lower:.6g} (certified gap {cert.gap():.2e})")
        return None


class _Agent(PricedAgent):
    """One agent: its priced program, its incumbent and the replies it solved for (see the module docstring)."""

    state_attributes = ("x", "best", "solved_prices", "solved_x", "solved_replies", "skipped")  # checkpoint keeps

    def __init__(self, sub: CompiledSubproblem, rows: CouplingRows, options: DualBiOptions):
        super().__init__(sub, rows, options.perturbation, options.seed)
        self.least = sub.linear_range(self.g, float(self.g0[0]))[0]  # min of g_i over the LP relaxation
        self.best: np.ndarray | None = None
        self.reuse, self.warm_start = options.reuse_decisions, options.warm_start
        #: the prices solved at (increasing), and at each the decisions and the reply (g_i, f_i, L~_i - D_i)
        self.solved_prices: list[float] = []
        self.solved_x: list[np.ndarray] = []
        self.solved_replies: list[np.ndarray] = []
        self.skipped = 0  # the replies given without a solve (the run's info 'replies_without_solve')

    def step(self, price: float, k: int = 0) -> np.ndarray:
        """The reply at ``price``: g_i(x_i), f_i(x_i), L~_i - D_i (``k`` names the iteration in the error of a local
        problem without a solution); from the solved prices around it when they prove it (module docstring)."""
        at = bisect.bisect_left(self.solved_prices, price)
        reply = self._reused(price, at) if self.reuse else None
        if reply is not None:
            self.skipped += 1
            return reply
        start = None
        if self.warm_start and self.solved_prices:  # the decisions solved at the nearest price
            around = [j for j in (at - 1, at) if 0 <= j < len(self.solved_prices)]
            start = self.solved_x[min(around, key=lambda j: abs(self.solved_prices[j] - price))]
        solution = self.solve(np.array([price]), method=METHOD, iteration=k + 1, start=start)
        bound = solution.bound if solution.bound is not None else solution.objective
        reply = np.array([self.row_values(self.x)[0], self.sub.cost(self.x), bound - self.perturbation_shift])
        self.solved_prices.insert(at, price)
        self.solved_x.insert(at, self.x)
        self.solved_replies.insert(at, reply)
        return reply.copy()

    def _reused(self, price: float, at: int) -> np.ndarray | None:
        """The reply at ``price`` without a solve: the one solved at that very price, or, between two solved prices
        with the same decisions, those decisions and the bounds interpolated; None when neither applies."""
        prices = self.solved_prices
        if at < len(prices) and prices[at] == price:
            self.x = self.solved_x[at]
            return self.solved_replies[at].copy()
        if not 0 < at < len(prices) or not np.array_equal(self.solved_x[at - 1], self.solved_x[at]):
            return None
        weight = (price - prices[at - 1]) / (prices[at] - prices[at - 1])
        below, above = self.solved_replies[at - 1], self.solved_replies[at]
        self.x = self.solved_x[at]
        return np.array([below[0], below[1], (1.0 - weight) * below[2] + weight * above[2]])


@register(MethodSpec(
    METHOD, "bisection on the price of one scalar coupling row (a budget), with a feasible, improving incumbent and "
    "a certified gap", kinds=("coupled",), options=DualBiOptions,
    stopping=(_UnpricedOptimal(), CertifiedGap(), _BracketClosed(), Tolerance()), progress=COORDINATOR_PROGRESS,
    columns=(
        Column("price", "the price lambda_k broadcast at this iteration"),
        Column("price_low", "lower end of the bracket (a price at which the row is violated)"),
        Column("price_high", "upper end of the bracket (NaN until a price meets the row)"),
        Column("row_value", "the coupling row's value g(x(lambda_k))"), *COORDINATOR_COLUMNS,
        Column("phase", "0 while expanding the bracket, 1 while bisecting"))))
class DualBi(Driver):
    """See the module docstring."""

    state_attributes = ("lo", "hi", "price", "phase", "expansions", "closed", "certificate.lower",
                        "certificate.upper")

    def setup(self) -> None:
        self.rows = CouplingRows.from_problem(self.problem)
        if self.rows.size != 1 or self.rows.equality.any():
            names = ", ".join(f"{r.name} ({r.scope})" for r in self.problem.resources)
            raise ProblemError(
                f"dualbi prices one scalar inequality coupling row; this case has {self.rows.size} coupling rows "
                f"({'an equality among them; ' if self.rows.equality.any() else ''}resources: {names}). Declare a "
                "single '<=' or '>=' row of scope 'horizon' (e.g. a total-energy budget) on the resources sheet, or "
                "use tightening")
        self.local: dict[str, _Agent] = {}

        def compile_one(name):
            sub = self.compile_subproblem(name, self.options.mip_rel_gap)
            self.local[name] = _Agent(sub, self.rows, self.options)
            return np.array([self.local[name].least])

        least = float(self.runtime.sum(self.runtime.each(compile_one), count=True)[0])
        scale = self.runtime.maximum(self.runtime.each(lambda n: np.array([self.local[n].price_scale])))
        self.b = float(self.rows.total[0])
        self.tol = 1e-9 * max(abs(self.b), 1.0)
        self.start = self.options.price_start or max(float(scale[0]), 1e-12)
        self.lo, self.hi, self.price = 0.0, np.inf, 0.0
        self.phase, self.expansions = EXPAND, 0
        self.certificate = Certificate()
        self.closed = False
        resource = self.problem.resources[int(self.rows.resource[0])]
        if least > self.b + self.tol:
            sign = float(self.rows.sign[0])
            reach, side = ("at least", "above") if sign > 0 else ("at most", "below")
            self.abandoned = (f"the coupling row on {resource.name} cannot be met: the agents' total is {reach} "
                              f"{sign * least:.6g} {resource.unit} however they are priced (LP relaxations), "
                              f"{side} the {sign * self.b:.6g} {resource.unit} of the row")

    def iterate(self, k: int) -> dict[str, float]:
        price = self.price
        replies = self.runtime.each(lambda name: self.local[name].step(price, k))
        self.decisions = {name: self.local[name].x for name in self.local}
        total = self.runtime.sum(replies, count=True)
        value, cost, bound = float(total[0]), float(total[1]), float(total[2])
        self.certificate.bound(bound - price * self.b)
        feasible = value <= self.b + self.tol
        if feasible:
            self.hi = price
            if self.certificate.offer(cost):
                self.runtime.each(lambda name: setattr(self.local[name], "best", self.local[name].x))
        else:
            self.lo = price
        record = {"price": price, "price_low": self.lo, "price_high": self.hi if np.isfinite(self.hi) else np.nan,
                  "row_value": value, **self.certificate.record(), "feasible": float(feasible),
                  "phase": self.phase}
        self._next_price(k)
        self.runtime.count_broadcast(1)
        return record

    def _next_price(self, k: int) -> None:
        if k == 0 and np.isfinite(self.hi):  # x(0) meets the row: nothing to price
            self.closed = True
            return
        if not np.isfinite(self.hi):
            if self.expansions >= self.options.max_expansions:
                resource = self.problem.resources[int(self.rows.resource[0])]
                self.abandoned = (f"no price up to {self.lo:.6g} {self.problem.currency}/{resource.unit} makes the "
                                  f"agents meet the coupling row on {resource.name} ({self.options.max_expansions} "
                                  "doublings); raise max_expansions or price_start")
                return
            self.price = self.start if self.expansions == 0 else 2.0 * self.lo
            self.expansions += 1
            return
        self.phase = BISECT
        self.closed = self.hi - self.lo <= 1e-12 * self.hi
        self.price = 0.5 * (self.lo + self.hi)

    def finish(self) -> dict[str, object]:
        reused = self.runtime.sum(self.runtime.each(lambda name: np.array([float(self.local[name].skipped)])))
        facts: dict[str, object] = {**self.certificate.facts(),
                                    "price_bracket": [self.lo, self.hi if np.isfinite(self.hi) else None],
                                    "replies_without_solve": int(reused[0])}
        if self.certificate.has_incumbent:
            self.decisions = {name: self.local[name].best for name in self.local}
        else:
            self.warnings.append("no iterate met the coupling row: the decisions are the last iterate, which "
                                 "violates it (run longer)")
        return facts

    def prices(self) -> np.ndarray:
        """The bracket's upper end (the least price tried at which the row held), as the row's price."""
        price = self.hi if np.isfinite(self.hi) else self.price
        return self.rows.prices(np.array([price]), self.problem.grid.step_h)


__all__ = ["DualBi", "DualBiOptions"]

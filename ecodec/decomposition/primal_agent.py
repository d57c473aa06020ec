"""Agent i's side of primal decomposition (:mod:`ecodec.decomposition.primal_decomposition`, where the math is):
its relaxed local problem, its allocation y_i, its multipliers mu_i, its relay rows and its mixed-integer recovery.

The local problem is agent i's compiled subproblem with the columns rho (one per coupling row, or one in all) and
the allocation rows  g_i(x) - y_i <= rho  (and, on equality rows,  -(g_i(x) - y_i) <= rho), whose right-hand
sides are the only thing that changes between two solves.

Numbers of the local LP against the number of agents N (measured on the LP fleets of ``ecodec generate pev``,
seed 0, after 5 iterations, over all agents): costs 0.017-0.0565 and matrix entries 0.94-4.99 at N = 100 and 400
alike, but the largest row bound, the allocation y_i - g0_i, is 52.2 at N = 100 and 371 at N = 400.  It grows
as N because alpha_0 = step_size S / M with S, the largest |b_k|, a fleet total: a first move of one vehicle's
allocation is a fraction of the whole feeder, not of the vehicle's 5 kW.  The LP stays solvable (the relaxation
rho_i absorbs any allocation, and the local solves, :func:`~ecodec.decomposition.local_solve.solve_local`, all
ended optimal on 400 vehicles); measuring S per agent instead would change the iterates and is left as an
option to study.
"""

from __future__ import annotations

import logging

import numpy as np
import scipy.sparse as sp

from ecodec.decomposition.coupling_rows import CouplingRows
from ecodec.decomposition.local_solve import solve_local
from ecodec.solvers.compiled import CompiledSubproblem, SparseProduct

log = logging.getLogger(__name__)

METHOD = "primal-decomposition"
_POINT_TOL = 1e-9  # a row range narrower than this (relative) is one point: a relay row


def is_point(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Per row: is the range [lo, hi] a single point (narrower than _POINT_TOL, relative)?"""
    return (hi - lo) <= _POINT_TOL * (1.0 + np.abs(lo))


class LocalAgent:
    """Agent i's relaxed local problem: its compiled subproblem plus the column rho and the allocation rows."""

    #: What a checkpoint keeps of the agent (:mod:`ecodec.decomposition.state`; its program's bounds and costs,
    #: where y_i and M_i also live, are kept with the program)
    state_attributes = ("penalty", "y", "mu", "rho", "degree", "relay", "fixed_value", "harmonic", "_nu", "gap",
                        "streak", "_side", "neighbour_prices", "_price_sum", "_price_count")

    def __init__(self, sub: CompiledSubproblem, rows: CouplingRows, per_row: bool, degree: int):
        """The rho columns cost nothing until :meth:`set_penalty` prices them (M needs every agent's price scale)."""
        self.sub = sub
        program = sub.program
        n = sub.n_model_columns
        g, self.g0 = rows.local_rows(sub)
        self.g = g
        self.g_product = SparseProduct(g)  # made once: every solve evaluates g_i(x)
        k = rows.size if per_row else 1
        self.penalty = 0.0
        self.rho_cols = program.add_columns(np.zeros(k), np.zeros(k), np.full(k, np.inf))
        one = sp.eye_array(rows.size, format="csr") if per_row else sp.csr_array(np.ones((rows.size, 1)))
        upper_rows = sp.hstack([g, -one], format="csr")
        self.upper_rows = program.add_rows(upper_rows, np.full(rows.size, -np.inf), np.full(rows.size, np.inf))
        eq = np.flatnonzero(rows.equality)
        lower_rows = sp.hstack([g[eq], one[eq]], format="csr")
        self.lower_rows = program.add_rows(lower_rows, np.full(eq.size, -np.inf), np.full(eq.size, np.inf))
        self.eq = eq
        self.n = n
        self._bounded_rows = np.concatenate([self.upper_rows, self.lower_rows])
        self._free = np.full(rows.size + eq.size, -np.inf), np.full(rows.size + eq.size, np.inf)
        self.y = np.zeros(rows.size)
        self.mu = np.zeros(rows.size)
        self.rho = 0.0
        self.degree = max(degree, 1)
        self.relay = np.zeros(rows.size, dtype=bool)
        self.fixed_value = np.zeros(rows.size)
        self.harmonic = np.zeros(rows.size)
        self._nu = np.zeros(rows.size)
        self.equality = rows.equality
        self.gap = np.zeros(rows.size)
        self.streak = np.zeros(rows.size, dtype=int)  # iterations in a row outside the allocation, same side
        self._side = np.zeros(rows.size)
        self.neighbour_prices = np.zeros(rows.size)  # mean of the neighbours' last multipliers
        self._price_sum, self._price_count = np.zeros(rows.size), 0

    def set_penalty(self, penalty: float) -> None:
        """M_i, the price of this agent's relaxation rho_i."""
        self.penalty = penalty
        self.sub.program.set_costs(self.rho_cols, np.full(self.rho_cols.size, penalty))

    def raise_penalty(self, after: int) -> bool:
        """Double M_i when a relaxation rho_i,k stayed active on the same side ``after`` iterations in a row (the
        streak of that row starts again); True when it did."""
        if self.streak.max(initial=0) < after:
            return False
        self.set_penalty(2.0 * self.penalty)
        self.streak[self.streak >= after] = 0
        log.debug("agent %s: penalty M raised to %g", self.sub.agent_name, self.penalty)
        return True

    def set_relays(self, lo: np.ndarray, hi: np.ndarray) -> None:
        """Rows whose range [lo, hi] is one point c become relay rows (see the module docstring)."""
        self.relay = is_point(lo, hi)
        self.fixed_value = np.where(self.relay, lo, 0.0)

    def refresh_relays(self, rows: CouplingRows) -> None:
        """After the integers are fixed: rows whose LP range became one point turn into relay rows."""
        g, g0 = rows.local_rows(self.sub)
        free = np.full(self._bounded_rows.size, np.inf)
        self.sub.program.set_row_bounds(self._bounded_rows, -free, free)
        lo, hi = rows.local_range(self.sub)
        for k in np.flatnonzero(~self.relay & (np.diff(g.indptr) > 0) & ~is_point(lo, hi)):
            lo[k], hi[k] = self.sub.linear_range(g[[k]], g0[k])
        before = int(self.relay.sum())
        self.set_relays(np.where(self.relay, self.fixed_value, lo), np.where(self.relay, self.fixed_value, hi))
        self.set_allocation(self.y)
        log.debug("agent %s: %d relay rows after its integers were fixed (%d before)", self.sub.agent_name,
                  int(self.relay.sum()), before)

    def message(self, alpha: float) -> np.ndarray:
        """(nu_i, p_i): the potential of the allocation update and the harmonic estimate relayed on."""
        relay = self.relay
        nu = self.mu.copy()
        nu[relay] = self.harmonic[relay] - (self.y[relay] - self.fixed_value[relay]) / (alpha * self.degree)
        potential = self.mu.copy()
        potential[relay] = self.harmonic[relay]
        self._nu = nu
        return np.concatenate([nu, potential])

    def update(self, alpha: float, sums: np.ndarray, count: int) -> None:
        """y_i += alpha sum_j (nu_i - nu_j); relay rows average the neighbours' harmonic estimates (``sums``: the
        sum of the ``count`` neighbours' messages)."""
        if not count:
            return
        size = self.y.size
        move = count * self._nu - sums[:size]
        self.harmonic = self.neighbour_prices = sums[size:] / count
        self.set_allocation(self.y + alpha * move)

    def keep_price_average(self) -> None:
        """Add the neighbours' last multipliers to the average the price-based recovery commits at."""
        self._price_sum += self.neighbour_prices
        self._price_count += 1

    def set_allocation(self, y: np.ndarray) -> None:
        self.y = y
        rhs = y - self.g0
        lower, upper = self._free
        upper[: rhs.size] = rhs
        lower[rhs.size:] = rhs[self.eq]
        self.sub.program.set_row_bounds(self._bounded_rows, lower, upper)

    def _numbers(self) -> dict[str, float]:
        """The method's numbers in this agent's program, for the error of a solve without a solution."""
        return {"M_i": self.penalty, "largest |y_i|": float(np.max(np.abs(self.y), initial=0.0)),
                "largest |mu_i|": float(np.max(np.abs(self.mu), initial=0.0))}

    def solve(self, iteration: int) -> np.ndarray:
        solution = solve_local(self.sub, METHOD, iteration + 1, self._numbers)
        self.rho = float(np.sum(solution.x[self.rho_cols]))
        self.gap = self.g_product(solution.x) + self.g0 - self.y
        side = np.sign(np.where(self.equality | (self.gap > 0), self.gap, 0.0))
        side[np.abs(self.gap) <= 1e-6 * (1.0 + np.abs(self.y))] = 0.0
        side[self.relay] = 0.0
        self.streak = np.where((side != 0) & (side == self._side), self.streak + 1, (side != 0).astype(int))
        self._side = side
        if solution.row_dual is not None:
            mu = -solution.row_dual[self.upper_rows]
            mu[self.eq] -= solution.row_dual[self.lower_rows]
            self.mu = mu
        return solution.x[: self.n]

    def recover(self, by_price: bool = False) -> np.ndarray:
        """Mixed-integer recovery (step 2 of the module docstring), then fix the integers."""
        if by_price:
            return self._recover_by_price()
        sub, program = self.sub, self.sub.program
        program.relax_integrality(False)
        sub.set_model_cost(np.zeros(self.n), 0.0)
        program.set_costs(self.rho_cols, np.ones(self.rho_cols.size))
        least = self._solve_mip("least relaxation")
        rho_tilde = least[self.rho_cols]
        sub.set_model_cost()
        program.set_costs(self.rho_cols, np.zeros(self.rho_cols.size))
        program.set_column_bounds(self.rho_cols, 0.0, rho_tilde + 1e-9 * (1.0 + rho_tilde))
        x = self._solve_mip("cheapest decision")[: self.n]
        sub.fix_integers(x)
        self.set_penalty(self.penalty)
        program.set_column_bounds(self.rho_cols, 0.0, np.inf)
        return x

    def _recover_by_price(self) -> np.ndarray:
        """x_i = argmin over X_i of f_i(x) + pbar' g_i(x), pbar the average of the neighbours' multipliers kept by
        :meth:`keep_price_average` (their last ones when none was kept); the allocation rows are free for it."""
        sub, program = self.sub, self.sub.program
        price = self._price_sum / self._price_count if self._price_count else self.neighbour_prices
        program.relax_integrality(False)
        free = np.full(self._bounded_rows.size, np.inf)
        program.set_row_bounds(self._bounded_rows, -free, free)
        program.set_costs(self.rho_cols, np.zeros(self.rho_cols.size))
        sub.set_model_cost(sub.cost_vector + self.g.T @ price,
                           float(sub.cost_map.offset[0]) + float(price @ self.g0))
        x = self._solve_mip("commitment at the neighbours' prices")[: self.n]
        sub.set_model_cost()
        sub.fix_integers(x)
        self.set_penalty(self.penalty)
        self.set_allocation(self.y)
        return x

    def _solve_mip(self, what: str) -> np.ndarray:
        return solve_local(self.sub, METHOD, "at the recovery", self._numbers,
                           what=f"the mixed-integer recovery ({what})").x


def restricted_totals(runtime, rows: CouplingRows, subproblems: dict, ranges: dict, least: np.ndarray,
                      mode: str) -> tuple[np.ndarray, dict[str, object], str | None]:
    """Step 0 of the mixed-integer version (:mod:`ecodec.decomposition.primal_decomposition`): the inequality
    totals b_k - sigma_k rbar_k for ``mode`` (the ``restriction`` option), ``least`` being sum_i lo_i,k, the least
    the agents can do together on each row; returns (totals, facts for the run's info, a warning or None)."""
    inequality = ~rows.equality

    def spread(name):  # r_i,k and whether agent i moves row k, for a mixed-integer agent on an inequality row
        lo, hi = ranges[name]
        if not subproblems[name].integer_columns.size:
            return np.zeros((2, lo.size))
        return np.stack([np.where(inequality, hi - lo, 0.0), (inequality & ~is_point(lo, hi)).astype(float)])

    parts = runtime.each(spread)
    rbar = runtime.maximum({name: part[0] for name, part in parts.items()}, count=True)
    movers = runtime.sum({name: part[1] for name, part in parts.items()}, count=True)
    p = float(rows.size)
    factor = {"published": np.full(rows.size, p), "agents": np.minimum(p, movers),
              "none": np.zeros(rows.size)}[mode]
    sigma = factor * rbar
    total = rows.total - sigma
    lower, upper = rows.band_pairs()
    empty = np.zeros(rows.size, dtype=bool)
    band_empty = (-total[lower]) > total[upper]
    empty[lower[band_empty]] = empty[upper[band_empty]] = True
    empty |= inequality & (total < least - 1e-9 * (1.0 + np.abs(least)))  # below what the agents can do
    empty &= sigma > 0
    total[empty] = rows.total[empty]
    restricted = inequality & (sigma > 0) & ~empty
    facts = {"restriction": mode, "restricted_rows": int(restricted.sum()),
             "unrestricted_rows": int(empty.sum()), "unrestricted_band_steps": int(band_empty.sum())}
    warning = None
    if empty.any():
        warning = (f"restriction ({mode}) left out at {int(empty.sum())} of {int(inequality.sum())} inequality rows, "
                   f"where it would empty the row's band ({int(band_empty.sum())} band steps) or ask less than the "
                   f"agents can do together; the repair phase restores feasibility there, without the finite-time "
                   f"guarantee")
    return total, facts, warning


__all__ = ["LocalAgent", "is_point", "restricted_totals"]

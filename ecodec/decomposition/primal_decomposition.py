"""Distributed primal decomposition (Camisa, Notarnicola, Notarstefano), convex and mixed-integer.

Coupled problem:  min sum_i f_i(x_i)  s.t.  x_i in X_i,  coupling rows  sum_i g_i(x_i) (== or <=) b  written as in
:mod:`ecodec.decomposition.coupling_rows` (equality rows for the power balances, the heat band as two inequality
rows), p rows in all.  The right-hand side b is split into local *allocations* y_i in R^p with sum_i y_i = b.

Per iteration k every agent i (ALGORITHMS.md section 2; ECODREAM report, "Distributed Primal Decomposition"):

1. local solve, relaxed by one scalar rho_i >= 0 priced at M:

       min_{x_i in X_i, rho_i >= 0}  f_i(x_i) + M rho_i
       s.t.  mu_i,k :  g_i,k(x_i) <= y_i,k + rho_i           (inequality rows k)
             lambda_i,k : |g_i,k(x_i) - y_i,k| <= rho_i        (equality rows k)

   giving x_i^k, rho_i^k and the multipliers mu_i^k = -(d cost / d y_i) of every row;
2. sends mu_i^k to its neighbours j in N_i and updates its allocation with the Laplacian rule

       y_i^{k+1} = y_i^k + alpha^k sum_{j in N_i} (mu_i^k - mu_j^k),    alpha^k = alpha_0 / (k + 1)^beta,

   which keeps sum_i y_i = b exactly at every iteration (each edge adds and removes the same amount).

=================  ====================  ===================================================================
symbol             option / name         meaning
=================  ====================  ===================================================================
M                  ``penalty``           price of rho_i; must exceed the l1 norm of an optimal coupling
                                         multiplier, else rho_i stays positive (ecodec warns when it does)
alpha_0, beta      ``step_size``,        diminishing step: sum alpha = inf, sum alpha^2 < inf for beta in
                   ``step_decay``        (0.5, 1]; alpha_0 = step_size * S / M with S the largest |b_k|, so
                                         that a first move alpha_0 * M is the fraction step_size of the peak
y_i^0              (initial split)       each agent's row value range [lo_i,k, hi_i,k] (interval arithmetic,
                                         LPs where unbounded); y_i^0 at the same fraction of every range, so
                                         sum_i y_i^0 = b (one sum over the agents)
(none)             ``repair_patience``   mixed-integer repair: iterations without a new least violation
                                         before the step is halved (default 50)
=================  ====================  ===================================================================

Random time-varying graphs (``graph = "random"``; Camisa, Farina, Notarnicola, Notarstefano, "Distributed
constraint-coupled optimization via primal decomposition over random time-varying graphs", Automatica 2021): the
same iteration with N_i replaced by the neighbours whose edge is active at iteration k (each edge active with
``edge_probability``, drawn from ``graph_seed`` and k), so allocations move only along active edges and
sum_i y_i = b still holds at every iteration; the relay rows below use the active degree |N_i(k)|.

Relay rows (ecodec's addition).  A row whose value agent i cannot move (its range over X_i is one point c_i,k: a
boiler on the power balance, photovoltaics at night, a microturbine whose commitment is fixed off) makes the local
value function of y_i,k the indicator of {c_i,k}, whose subgradient at c_i,k is any number.  Reading it from the
solver (+-M as soon as y_i,k leaves c_i,k) makes such an agent bounce its allocation around c_i,k with the size of
the step and spill it onto its neighbours.  Instead the agent sends on that row

       nu_i,k = p_i,k - (y_i,k - c_i,k) / (alpha^k |N_i|),      p_i,k = mean over j in N_i of p_j,k (last iteration),

where p_j = mu_j for an agent that moves the row: p_i is a running harmonic average of the neighbours' multipliers
(it passes them on, as a wire would), and the second term hands any allocation the relay holds beyond c_i,k to its
neighbours in one step.  Every agent sends (nu_i, p_i) and updates y_i^{k+1} = y_i^k + alpha^k sum_j (nu_i - nu_j),
so sum_i y_i = b still holds exactly; for agents that move a row nu_i,k = mu_i,k, the update above.

The local relaxation is ``relaxation = "per-row"`` by default: one rho_i,k >= 0 per row, priced M each, so every
violated row moves at once and M need only exceed the largest optimal multiplier of a single row (an exact l1
penalty); ``"scalar"`` is the single rho_i of the reference study (M must then exceed the l1 norm of the
multipliers, and one row moves at a time).  Defaults are tuned on the shipped microgrid (EUR, kW, 15-min steps,
prices near 0.1 EUR/kWh, i.e. multipliers near 0.025 EUR/kW per step): choose M a few times the largest price
per unit and step; ``step_size`` is relative to the peak load and needs no change with the size of the case.

Mixed-integer version (an agent has integer variables and ``mixed_integer = "auto"``; after Camisa, Mansoori,
Notarnicola, Notarstefano, "Distributed primal decomposition for large-scale MILPs", IEEE TAC 2022):

0. restriction, once: each mixed-integer agent computes per inequality row the range r_i,k of its row value over
   its relaxed set; a max-consensus gives rbar_k = max_i r_i,k, and each inequality total is tightened to
   b_k - rbar_k where that leaves the row's band non-empty (rows where it would not are left as they are and
   the run says how many);
1. convexified iterations: the iteration above on the LP relaxation of each X_i (which contains conv(X_i); the
   reference solves conv(X_i) exactly by cutting planes, ecodec uses the relaxation), for
   ``recovery_iteration`` iterations;
2. recovery, per mixed-integer agent:  rhotilde_i = min sum rho  s.t. x in X_i, rows <= y_i + rho,  then
   x_i = argmin f_i over X_i with each rho_k <= rhotilde_i,k (two local MILPs); its integers are then fixed;
3. repair (ecodec's addition, because equality rows cannot be restricted): with the integers fixed (and the rows a
   fixed-off unit can no longer move turned into relay rows, from two LPs per row), the iteration continues on
   the now-continuous local problems from the current allocations until the coupling holds within the stopping
   rule's tolerance.  One sum over the agents per iteration gives the coupling residual sum_i g_i(x_i) - b; when
   its relative violation has made no new low for ``repair_patience`` iterations, the step is halved, so the
   oscillation of a subgradient step around the kinks of the local value functions dies out geometrically
   instead of like (k+1)^-beta.  The result is the mixed-integer decision with every coupling row met within
   tolerance.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from ecodec.decomposition.coupling_rows import CouplingRows
from ecodec.decomposition.neighbour_driver import NeighbourDriver
from ecodec.decomposition.options import TimeVaryingGraphOptions, require
from ecodec.errors import SolveError
from ecodec.solvers.compiled import CompiledSubproblem

log = logging.getLogger(__name__)

METHOD = "primal-decomposition"
_POINT_TOL = 1e-9  # a row range narrower than this (relative) is one point: a relay row


@dataclass(frozen=True)
class PrimalDecompositionOptions(TimeVaryingGraphOptions):
    """Options of primal decomposition (see the module docstring for the symbols)."""

    method = METHOD
    step_size: float = 0.1
    step_decay: float = 0.6
    penalty: float = 0.1
    relaxation: str = "per-row"
    mixed_integer: str = "auto"
    recovery_iteration: int = 1000
    mip_rel_gap: float = 1e-6
    repair_patience: int = 50

    def __post_init__(self):
        super().__post_init__()
        require(self.graph in ("fixed", "random"), METHOD, "graph", self.graph,
                "'fixed' or 'random' (the theory covers edges active at random, Camisa, Farina, Notarnicola and "
                "Notarstefano 2021, not a periodic sequence of graphs)")
        require(isinstance(self.step_size, (int, float)) and math.isfinite(self.step_size) and self.step_size > 0,
                METHOD, "step_size", self.step_size, "a number > 0")
        require(isinstance(self.step_decay, (int, float)) and 0.5 < self.step_decay <= 1, METHOD, "step_decay",
                self.step_decay, "a number in (0.5, 1] (so that the steps sum to infinity but their squares do not)")
        require(isinstance(self.penalty, (int, float)) and math.isfinite(self.penalty) and self.penalty > 0,
                METHOD, "penalty", self.penalty, "a number > 0 (M, the price of rho)")
        require(self.mixed_integer in ("auto", "relaxed"), METHOD, "mixed_integer", self.mixed_integer,
                "'auto' (mixed-integer version when an agent has integers) or 'relaxed' (LP relaxation only)")
        require(self.relaxation in ("per-row", "scalar"), METHOD, "relaxation", self.relaxation,
                "'per-row' (one rho per coupling row) or 'scalar' (one rho per agent, as in the reference study)")
        require(isinstance(self.recovery_iteration, int) and self.recovery_iteration >= 1, METHOD,
                "recovery_iteration", self.recovery_iteration, "an integer >= 1")
        require(isinstance(self.repair_patience, int) and self.repair_patience >= 1, METHOD, "repair_patience",
                self.repair_patience, "an integer >= 1")
        require(isinstance(self.mip_rel_gap, (int, float)) and 0 <= self.mip_rel_gap < 1, METHOD, "mip_rel_gap",
                self.mip_rel_gap, "a number in [0, 1)")


def _is_point(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Per row: is the range [lo, hi] a single point (narrower than _POINT_TOL, relative)?"""
    return (hi - lo) <= _POINT_TOL * (1.0 + np.abs(lo))


class _LocalAgent:
    """Agent i's relaxed local problem: its compiled subproblem plus the column rho and the allocation rows."""

    def __init__(self, sub: CompiledSubproblem, rows: CouplingRows, penalty: float, per_row: bool, degree: int):
        self.sub = sub
        program = sub.program
        n = sub.n_model_columns
        g, self.g0 = rows.local_rows(sub)
        self.g = g
        k = rows.size if per_row else 1
        self.rho_cols = program.add_columns(np.full(k, penalty), np.zeros(k), np.full(k, np.inf))
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

    def set_relays(self, lo: np.ndarray, hi: np.ndarray) -> None:
        """Rows whose range [lo, hi] is one point c become relay rows (see the module docstring)."""
        self.relay = _is_point(lo, hi)
        self.fixed_value = np.where(self.relay, lo, 0.0)

    def refresh_relays(self, rows: CouplingRows) -> None:
        """After the integers are fixed: rows whose LP range became one point turn into relay rows."""
        g, g0 = rows.local_rows(self.sub)
        free = np.full(self._bounded_rows.size, np.inf)
        self.sub.program.set_row_bounds(self._bounded_rows, -free, free)
        lo, hi = rows.local_range(self.sub)
        for k in np.flatnonzero(~self.relay & (np.diff(g.indptr) > 0) & ~_is_point(lo, hi)):
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

    def update(self, alpha: float, received: dict[str, np.ndarray]) -> None:
        """y_i += alpha sum_j (nu_i - nu_j); relay rows average the neighbours' harmonic estimates."""
        if not received:
            return
        size = self.y.size
        messages = list(received.values())
        move = len(messages) * self._nu - sum(m[:size] for m in messages)
        self.harmonic = sum(m[size:] for m in messages) / len(messages)
        self.set_allocation(self.y + alpha * move)

    def set_allocation(self, y: np.ndarray) -> None:
        self.y = y
        rhs = y - self.g0
        lower, upper = self._free
        upper[: rhs.size] = rhs
        lower[rhs.size:] = rhs[self.eq]
        self.sub.program.set_row_bounds(self._bounded_rows, lower, upper)

    def solve(self, iteration: int) -> np.ndarray:
        solution = self.sub.program.solve()
        if not solution.has_solution:
            raise SolveError(f"primal decomposition: the local problem of agent '{self.sub.agent_name}' "
                             f"({self.sub.kind}) has no solution at iteration {iteration + 1} ({solution.status}); "
                             f"check that the agent can operate within its own limits")
        self.rho = float(np.sum(solution.x[self.rho_cols]))
        self.gap = self.g @ solution.x[: self.n] + self.g0 - self.y
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

    def recover(self, penalty: float) -> np.ndarray:
        """Mixed-integer recovery (step 2 of the module docstring), then fix the integers."""
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
        program.set_costs(self.rho_cols, np.full(self.rho_cols.size, penalty))
        program.set_column_bounds(self.rho_cols, 0.0, np.inf)
        return x

    def _solve_mip(self, what: str) -> np.ndarray:
        solution = self.sub.program.solve()
        if not solution.has_solution:
            raise SolveError(f"primal decomposition: the mixed-integer recovery ({what}) of agent "
                             f"'{self.sub.agent_name}' ({self.sub.kind}) found no solution ({solution.status})")
        return solution.x


class PrimalDecomposition(NeighbourDriver):
    """Distributed primal decomposition; the math is in the module docstring."""

    method = METHOD
    options_type = PrimalDecompositionOptions

    def setup(self) -> None:
        opts = self.options
        self.rows = CouplingRows.from_problem(self.problem)
        self.start_schedule()
        self._alpha0 = opts.step_size * (float(np.max(np.abs(self.rows.total))) or 1.0) / opts.penalty
        self.local: dict[str, _LocalAgent] = {}

        def compile_one(name):
            sub = CompiledSubproblem(self.problem, name, mip_rel_gap=opts.mip_rel_gap)
            if sub.is_mixed_integer:
                sub.program.relax_integrality(True)
            self.subproblems[name] = sub
            span = self.rows.local_range(sub)
            agent = _LocalAgent(sub, self.rows, opts.penalty, opts.relaxation == "per-row",
                                self.runtime.network.degree(name))
            agent.set_relays(*span)
            self.local[name] = agent
            return span

        ranges = self.runtime.each(compile_one)
        self._iterations = 0
        self.mixed = opts.mixed_integer == "auto" and self.problem.is_mixed_integer()
        self.fixed = False
        self._repair_factor, self._least_violation, self._since_least = 1.0, np.inf, 0
        total = self._restricted_totals(ranges) if self.mixed else self.rows.total
        low, width, movers = self.runtime.sum(self.runtime.each(lambda name: np.stack(
            [ranges[name][0], ranges[name][1] - ranges[name][0], ~self.local[name].relay])), count=True)
        share = np.clip((total - low) / np.maximum(width, 1e-12), 0.0, 1.0)
        excess = total - low - share * width

        def initial(name):
            lo, hi = ranges[name]
            part = np.where(movers > 0, ~self.local[name].relay / np.maximum(movers, 1), 1 / len(self.problem.agents))
            self.local[name].set_allocation(lo + share * (hi - lo) + part * excess)

        self.runtime.each(initial)

    def _restricted_totals(self, ranges: dict) -> np.ndarray:
        """Step 0 of the mixed-integer version: inequality totals tightened by rbar (max-consensus)."""
        inequality = ~self.rows.equality

        def spread(name):
            lo, hi = ranges[name]
            return np.where(inequality, hi - lo, 0.0) if self.subproblems[name].is_mixed_integer else 0.0 * lo

        rbar = self.runtime.maximum(self.runtime.each(spread), count=True)
        total = self.rows.total - rbar
        lower, upper = self.rows.band_pairs()
        empty = (-total[lower]) > total[upper]
        total[lower[empty]] = self.rows.total[lower[empty]]
        total[upper[empty]] = self.rows.total[upper[empty]]
        self.restriction = {"restricted_rows": int(np.sum(inequality)) - 2 * int(empty.sum()),
                            "unrestricted_band_steps": int(empty.sum())}
        if empty.any():
            self.warnings.append(f"restriction left out at {int(empty.sum())} band step(s) where the band is narrower "
                                 f"than the largest mixed-integer range; the repair phase restores feasibility there")
        return total

    def may_stop(self) -> bool:
        return not self.mixed or self.fixed

    def seeks_reference_cost(self) -> bool:
        return not self.mixed

    def _recover(self) -> None:
        def recover(name):
            agent = self.local[name]
            if not self.subproblems[name].integer_columns.size:
                return self.decisions[name]
            x = agent.recover(self.options.penalty)
            agent.refresh_relays(self.rows)
            return x

        self.decisions = self.runtime.each(recover)
        self.fixed = True

    def _watch_repair(self, residual: np.ndarray) -> None:
        """Repair phase: halve the step when the coupling violation made no new low in ``repair_patience``."""
        violation = self.rows.relative_violation(residual)
        if violation < self._least_violation:
            self._least_violation, self._since_least = violation, 0
            return
        self._since_least += 1
        if self._since_least >= self.options.repair_patience:
            self._repair_factor *= 0.5
            self._since_least = 0

    def step(self, k: int) -> float:
        """alpha^k = (step_size * S / M) / (k + 1)^beta, S the largest |right-hand side| of the coupling rows."""
        return self._alpha0 / (k + 1) ** self.options.step_decay

    def iterate(self, k: int) -> dict[str, float]:
        if self.mixed and not self.fixed and k == self.options.recovery_iteration:
            self._recover()
        alpha = self.step(k) * self._repair_factor
        self.decisions = self.runtime.each(lambda name: self.local[name].solve(k))
        if self.fixed:
            self._watch_repair(self.runtime.sum(self.runtime.each(lambda name: self.local[name].gap), count=True))
        graph = self.active_graph(k)
        self.runtime.each(lambda name: setattr(self.local[name], "degree", max(graph.degree(name), 1)))
        inbox = self.runtime.exchange(self.runtime.each(lambda name: self.local[name].message(alpha)), graph)
        self.runtime.each(lambda name: self.local[name].update(alpha, inbox[name]))
        total_rho = float(self.runtime.sum(self.runtime.each(lambda name: self.local[name].rho)))
        self._iterations = k + 1
        return {"step_size": alpha, "sum_rho": total_rho, "phase": 2.0 if self.fixed else (1.0 if self.mixed else 0.0)}

    def finish(self) -> dict[str, object]:
        last_rho = float(self.runtime.sum(self.runtime.each(lambda name: self.local[name].rho)))
        facts: dict[str, object] = {"final_sum_rho": last_rho, **self.graph_facts()}
        if self.mixed:
            if not self.fixed:
                self._recover()
                self.warnings.append("the run ended before the mixed-integer recovery iteration; the recovered "
                                     "decisions had no repair iterations and may violate the coupling")
            facts.update(self.restriction)
        streaks = self.runtime.gather(self.runtime.each(lambda name: self.local[name].streak))
        if not streaks:  # not the root process: the root reports
            return facts
        name = max(streaks, key=lambda n: int(streaks[n].max(initial=0)))
        row = int(np.argmax(streaks[name])) if streaks[name].size else 0
        longest = int(streaks[name].max(initial=0))
        if longest >= max(50, self._iterations // 5):
            resource = self.problem.resources[int(self.rows.resource[row])].name
            warning = (f"agent '{name}' stayed on the same side outside its allocation of {resource} at step "
                       f"{int(self.rows.step[row])} over the last {longest} iterations (rho > 0; sum of rho now "
                       f"{last_rho:.3g}): the penalty M = {self.options.penalty:g} may be too small (it must exceed "
                       f"the largest optimal coupling multiplier per row and step, or their l1 norm with the scalar "
                       f"relaxation), or the run needs more iterations")
            self.warnings.append(warning)
            log.warning(warning)
        return facts

    def prices(self) -> np.ndarray:
        """Mean multiplier per row over the agents that move it (relay rows carry no price of their own)."""
        movers = self.runtime.each(lambda name: ~self.local[name].relay)
        total = self.runtime.sum(self.runtime.each(lambda name: np.where(movers[name], self.local[name].mu, 0.0)))
        count = self.runtime.sum(movers)
        return self.rows.prices(np.where(count > 0, total / np.maximum(count, 1), 0.0), self.problem.grid.step_h)


__all__ = ["PrimalDecomposition", "PrimalDecompositionOptions"]

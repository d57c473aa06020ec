"""Distributed primal decomposition (Camisa, Notarnicola, Notarstefano), convex and mixed-integer.

Coupled problem:  min sum_i f_i(x_i)  s.t.  x_i in X_i,  coupling rows  sum_i g_i(x_i) (== or <=) b  written as in
:mod:`ecodec.decomposition.coupling_rows` (equality rows for the power balances, the heat band as two inequality
rows), p rows in all.  The right-hand side b is split into local *allocations* y_i in R^p with sum_i y_i = b.

Two allocation updates (option ``allocation_update``).  ``"augmented"``, the default on convex problems, is
ecodec's: the same allocation problem solved by linearized ADMM, a QP per agent and a constant step, with its
convergence theory and measurements in :mod:`ecodec.decomposition.primal_augmented` (microgrid_8: within 1% from
iteration 203 on, 0.1% at 617, against 1% first at 1451 and never 0.1% for the published step).  ``"subgradient"``
is the published iteration, and the one mixed-integer runs use; per iteration k every agent i (ALGORITHMS.md
section 2; ECODREAM report, "Distributed Primal Decomposition"):

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
M                  ``penalty_factor``    price of rho_i, M = penalty_factor x Lambda; must exceed the largest
                                         optimal multiplier of a row (per-row relaxation) or their l1 norm
                                         (scalar), else rho_i stays positive
Lambda             (price scale)         the largest cost per unit of coupling contribution over the agents
                                         (each computes its own from its cost and rows; one max-consensus),
                                         in currency per row unit: M, alpha and the multipliers scale with the
                                         currency, the allocations do not
(none)             ``penalty_raise_      an agent whose rho_i,k stayed active on the same side this many
                   after``               iterations doubles its own M_i (a safety net where Lambda is below
                                         an optimal multiplier; finitely many doublings, after which the
                                         iteration is the one of the theory with constant M_i)
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
multipliers, and one row moves at a time).  M is relative to the price scale, so the same options fit a case in
any currency (measured on the shipped microgrid, Lambda = 0.043 EUR per kW and step, the largest optimal
multiplier: first 1% after 1451 iterations with the default 1.5; other factors in docs/decomposition.md);
``step_size`` is relative to the peak load and needs no change with the size of the case.

Mixed-integer version (an agent has integer variables and ``mixed_integer = "auto"``; after Camisa, Mansoori,
Notarnicola, Notarstefano, "Distributed primal decomposition for large-scale MILPs", IEEE TAC 2022):

0. restriction, once: each mixed-integer agent computes per inequality row the range r_i,k of its row value over
   its relaxed set; a max-consensus gives rbar_k = max_i r_i,k and a sum gives m_k, the number of mixed-integer
   agents that move row k; each inequality total becomes b_k - sigma_k rbar_k, with sigma_k = p, the number of
   coupling rows (``restriction = "published"``, the reference's), or min(p, m_k) (``"agents"``, the default).
   Why min(p, m_k) keeps the reference's guarantee: its argument is that at a vertex optimum of the convexified
   problem at most p agents are not at a point of their own X_i (Shapley-Folkman), and the recovery moves each
   of them by at most r_i,k on row k; only those that move row k count there, at most min(p, m_k) of them.
   Where the restricted total empties a band or asks less than the agents can do together (sum_i lo_i,k), the
   row keeps b_k and the run says how many (no guarantee on those rows).  Measured on
   cases/microgrid_8_milp.xlsx: the heat band (37-84 kW wide) is narrower than one microturbine's heat range
   (110.5 kW_th), so sigma_k = 384 (published), 2 (agents) and even 1 empty it at all 96 steps: no row is
   restricted, and the power balances, equality rows, cannot be; feasibility comes from the repair phase.  On a
   fleet whose restricted problem is feasible (tests: 20 on/off vehicles, a 39 kW feeder) the recovered schedule
   meets the coupling at once for a recovery at iteration 20, 50, 100 or 200, and overloads it without the
   restriction;
1. convexified iterations: the iteration above on the LP relaxation of each X_i, for ``recovery_iteration``
   iterations.  The reference iterates on conv(X_i) (by cutting planes); the relaxation contains it, and for the
   shipped microturbine (on/off, p_min-p_max when on, start-ups, no minimum up or down times) it is the same set
   (tested: 100 random linear objectives, every relaxed optimum integral).  For an on/off vehicle with an energy
   target it is not (83-97% of random objectives give a fractional optimum): there the relaxation is weaker;
2. recovery at iteration K = ``recovery_iteration``, per mixed-integer agent, after which its integers are fixed.
   ``recovery = "auto"`` (the default) is "price" when the coupling has equality rows (no restriction can make
   them hold, the repair phase must, and the commitment may as well be the cheap one) and "allocation" when every
   row is an inequality (the reference's setting, where its restriction gives finite-time feasibility).
   ``recovery = "price"`` (ecodec's addition, a Lagrangian commitment):

       x_i = argmin_{x in X_i}  f_i(x) + pbar_i' g_i(x),   pbar_i = mean over k in (K/2, K] of the mean of the
                                                           multipliers mu_j^k received from the neighbours j,

   one local MILP at the coupling prices the relaxed iterations estimate (no new message: the multipliers are
   the ones the allocation update uses).  ``recovery = "allocation"`` (the reference's):
   rhotilde_i = min sum rho  s.t. x in X_i, rows <= y_i + rho,  then x_i = argmin f_i over X_i with each
   rho_k <= rhotilde_i,k (two local MILPs), which follows the allocation of the LP relaxation.  Measured on
   cases/microgrid_8_milp.xlsx (centralized MILP 375.57 EUR): price 378.93 EUR (0.9% above; mt2 committed for
   38 quarter-hours, the optimum 40), allocation 395.73 EUR (5.4%; mt2 70 quarter-hours, 3 starts).  The
   neighbours' multipliers, not the agent's own: where a relaxed unit is the marginal one, its own multipliers
   are its own marginal cost, at which committing it never pays (measured: 409.96 EUR, 9.2%, mt2 never on);
   the average over the second half of the relaxed phase, not the last iterate, since the multipliers of LP
   agents jump between vertices (the average over the last 10%, 25% or 50% gives the same commitment).  On
   cases/pev_100.xlsx (on/off vehicles under a connection limit, inequality rows only) neither recovery
   gives a feasible schedule in 3000 iterations (price: every vehicle commits to the same cheap slots, 307% over
   the limit; allocation: 19% over), since a fixed on/off schedule leaves the repair nothing to move: use
   ``tightening`` there;
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

import dataclasses
import logging
from dataclasses import dataclass

import numpy as np

from ecodec.decomposition.coupling_rows import CouplingRows
from ecodec.decomposition.neighbour_driver import NeighbourDriver, contribution_reach, penalty_scale
from ecodec.decomposition.primal_agent import LocalAgent, is_point, restricted_totals
from ecodec.decomposition.primal_augmented import AugmentedAgent
from ecodec.decomposition.priced_agent import agreed_price_scale, multiplier_scale
from ecodec.decomposition.options import (TimeVaryingGraphOptions, decay_option, graph_option, mip_gap_option,
                                          mixed_integer_option, option, qp_solver_option)
from ecodec.decomposition.registry import PHASE_COLUMN, Column, MethodSpec, register
from ecodec.decomposition.stopping import CONVEX, PHASED, RELAXED, REPAIR

log = logging.getLogger(__name__)

METHOD = "primal-decomposition"


@dataclass(frozen=True)
class PrimalDecompositionOptions(TimeVaryingGraphOptions):
    """Options of primal decomposition (see the module docstring for the symbols)."""

    method = METHOD
    graph: str = graph_option(("fixed", "random"), "; not periodic: the theory covers edges active at random "
                              "(Camisa, Farina, Notarnicola and Notarstefano 2021), not a periodic sequence of graphs")
    allocation_update: str = option("augmented", "-", "convex iterations: augmented (linearized ADMM on the "
                                    "allocations, a QP per agent, ecodec's) or subgradient (the published LP step); "
                                    "mixed-integer runs use subgradient", choices=("augmented", "subgradient"))
    augmented_penalty: float = option(1.0, "-", "augmented: c as a multiple of Lambda / S_c", lower=0.0,
                                      lower_open=True)
    augmented_step: float = option(0.9, "-", "augmented: alpha c 2 d_max, below 1 as linearized ADMM requires",
                                   lower=0.0, upper=1.0, lower_open=True, upper_open=True)
    step_size: float = option(0.1, "-", "first move alpha_0 M as a fraction of the peak |right-hand side|",
                              lower=0.0, lower_open=True)
    step_decay: float = decay_option()
    penalty_factor: float = option(1.5, "-", "M as a multiple of the price scale Lambda (the largest cost per unit "
                                   "of coupling contribution over the agents)", lower=0.0, lower_open=True)
    penalty_raise_after: int = option(100, "iterations", "an agent doubles its own M when one of its relaxations "
                                      "rho_i,k stayed active on the same side this many iterations in a row",
                                      lower=1)
    relaxation: str = option("per-row", "-", "per-row: one rho per coupling row; scalar: one rho per agent (the "
                             "reference study)", choices=("per-row", "scalar"))
    mixed_integer: str = mixed_integer_option()
    restriction: str = option("agents", "-", "mixed-integer restriction of each inequality row k by sigma_k x the "
                              "largest mixed-integer range rbar_k: agents (sigma_k = min(p, agents that move row k)), "
                              "published (sigma_k = p, the number of coupling rows) or none",
                              choices=("agents", "published", "none"))
    recovery: str = option("auto", "-", "mixed-integer recovery: price (commit at the neighbours' average "
                           "multipliers, one MILP), allocation (the published two MILPs) or auto (price when "
                           "the coupling has equality rows, else allocation)", choices=("auto", "price", "allocation"))
    recovery_iteration: int = option(1000, "iterations", "iteration of the mixed-integer recovery (mixed_integer "
                                     "auto)", lower=1)
    mip_rel_gap: float = mip_gap_option()
    qp_solver: str = qp_solver_option()
    repair_patience: int = option(50, "iterations", "repair: iterations without a new least violation before the "
                                  "step is halved", lower=1)


@register(MethodSpec(
    METHOD, "distributed primal decomposition: agents exchange multipliers with their neighbours and move their "
    "allocations of the coupling; convex and mixed-integer", kinds=("coupled",), default_for=("coupled",),
    options=PrimalDecompositionOptions, stopping=PHASED, columns=(
        Column("step_size", "alpha^k, the allocation step"),
        Column("sum_rho", "sum of the agents' relaxations rho_i (augmented update: sum_i |z_i - y_i|_1)"),
        PHASE_COLUMN)))
class PrimalDecomposition(NeighbourDriver):
    """Distributed primal decomposition; the math is in the module docstring."""

    state_attributes = ("_iterations", "fixed", "_repair_factor", "_least_violation", "_since_least",
                        "broken_windows")

    def setup(self) -> None:
        opts = self.options
        self.rows = CouplingRows.from_problem(self.problem)
        self.start_schedule()
        self.local: dict[str, LocalAgent | AugmentedAgent] = {}
        self.mixed = opts.mixed_integer == "auto" and self.problem.is_mixed_integer()
        self.augmented = opts.allocation_update == "augmented" and not self.mixed

        def compile_one(name):
            sub = self.compile_subproblem(name, opts.mip_rel_gap)
            if sub.is_mixed_integer:
                sub.program.relax_integrality(True)
            span = self.rows.local_range(sub)
            if self.augmented:
                self.local[name] = AugmentedAgent(sub, self.rows, opts.qp_solver)
                return span
            agent = LocalAgent(sub, self.rows, opts.relaxation == "per-row", self.runtime.network.degree(name))
            agent.set_relays(*span)
            self.local[name] = agent
            return span

        ranges = self.runtime.each(compile_one)
        self.price_scale = agreed_price_scale(self.runtime.maximum(self.runtime.each(
            lambda name: multiplier_scale(self.subproblems[name], self.local[name].g)), count=True))
        self._warn_unused_options()
        if self.augmented:
            self._set_augmented_scale()
        else:
            self.penalty = opts.penalty_factor * self.price_scale
            self._alpha0 = opts.step_size * (float(np.max(np.abs(self.rows.total))) or 1.0) / self.penalty
            self.runtime.each(lambda name: self.local[name].set_penalty(self.penalty))
        self._iterations = 0
        self._recovery_by_price = opts.recovery == "price" or (opts.recovery == "auto" and self.rows.equality.any())
        self.fixed = False
        self._repair_factor, self._least_violation, self._since_least = 1.0, np.inf, 0
        low, width, movers = self.runtime.sum(self.runtime.each(lambda name: np.stack(
            [ranges[name][0], ranges[name][1] - ranges[name][0], ~self.local[name].relay])), count=True)
        total = self._restricted_totals(ranges, low) if self.mixed else self.rows.total
        share = np.clip((total - low) / np.maximum(width, 1e-12), 0.0, 1.0)
        excess = total - low - share * width

        def initial(name):
            lo, hi = ranges[name]
            part = np.where(movers > 0, ~self.local[name].relay / np.maximum(movers, 1), 1 / len(self.problem.agents))
            self.local[name].set_allocation(lo + share * (hi - lo) + part * excess)

        self.runtime.each(initial)

    def _warn_unused_options(self) -> None:
        """A changed option of the update this run does not use is named in the run's warnings."""
        unused = (("penalty_factor", "penalty_raise_after", "relaxation", "step_size", "step_decay")
                  if self.augmented else ("augmented_penalty", "augmented_step", "qp_solver"))
        defaults = {field.name: field.default for field in dataclasses.fields(self.options)}
        changed = ", ".join(name for name in unused if getattr(self.options, name) != defaults[name])
        if changed:
            used = ("augmented" if self.augmented else
                    "subgradient (a mixed-integer run)" if self.mixed else "subgradient")
            self.warnings.append(f"primal-decomposition: {changed} not used: this run uses the {used} allocation "
                                 f"update (option allocation_update)")

    def _set_augmented_scale(self) -> None:
        """c = augmented_penalty Lambda / S_c and alpha = theta / (2 c d_max) (:mod:`.primal_augmented`): R and
        d_max by one max-consensus."""
        largest = self.runtime.maximum(self.runtime.each(lambda name: np.array([
            contribution_reach(self.local[name].sub, self.rows), float(self.runtime.network.degree(name))])),
            count=True)
        reach, self.max_degree = float(largest[0]), max(float(largest[1]), 1.0)
        self.penalty_scale = penalty_scale(float(np.max(np.abs(self.rows.total), initial=0.0)) or reach, reach)
        self.penalty = self.options.augmented_penalty * self.price_scale / max(self.penalty_scale, 1e-12)
        self._alpha0 = self.options.augmented_step / (2.0 * self.penalty * self.max_degree)
        self.runtime.each(lambda name: self.local[name].set_penalty(self.penalty))

    def _restricted_totals(self, ranges: dict, least: np.ndarray) -> np.ndarray:
        """Step 0 of the mixed-integer version (module docstring); ``least`` is sum_i lo_i,k."""
        total, self.restriction, warning = restricted_totals(self.runtime, self.rows, self.subproblems, ranges,
                                                             least, self.options.restriction)
        if warning:
            self.warnings.append(warning)
        return total

    def _recover(self) -> None:
        def recover(name):
            agent = self.local[name]
            if not self.subproblems[name].integer_columns.size:
                return self.decisions[name]
            x = agent.recover(by_price=self._recovery_by_price)
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
        """alpha^k = (step_size * S / M) / (k + 1)^beta, S the largest |right-hand side| of the coupling rows;
        the constant alpha of the augmented update."""
        return self._alpha0 if self.augmented else self._alpha0 / (k + 1) ** self.options.step_decay

    def _iterate_augmented(self, k: int) -> dict[str, float]:
        """One iteration of :mod:`.primal_augmented`: local QPs, one exchange of mu, allocation and u updates."""
        alpha = self._alpha0
        self.decisions = self.runtime.each(lambda name: self.local[name].solve(k))
        graph = self.active_graph(k)
        sums = self.runtime.mix(self.runtime.each(lambda name: self.local[name].message()), graph, "adjacency")
        self.runtime.each(lambda name: self.local[name].update(alpha, sums[name], graph.degree(name)))
        residual = float(self.runtime.sum(self.runtime.each(lambda name: self.local[name].residual)))
        self._iterations = k + 1
        return {"step_size": alpha, "sum_rho": residual, "phase": CONVEX}

    def iterate(self, k: int) -> dict[str, float]:
        if self.augmented:
            return self._iterate_augmented(k)
        if self.mixed and not self.fixed and k == self.options.recovery_iteration:
            self._recover()
        if self.mixed and not self.fixed and k > self.options.recovery_iteration // 2:
            self.runtime.each(lambda name: self.local[name].keep_price_average())
        alpha = self.step(k) * self._repair_factor
        self.decisions = self.runtime.each(lambda name: self.local[name].solve(k))
        self.runtime.each(lambda name: self.local[name].raise_penalty(self.options.penalty_raise_after))
        if self.fixed:
            self._watch_repair(self.runtime.sum(self.runtime.each(lambda name: self.local[name].gap), count=True))
        graph = self.active_graph(k)
        self.runtime.each(lambda name: setattr(self.local[name], "degree", max(graph.degree(name), 1)))
        sums = self.runtime.mix(self.runtime.each(lambda name: self.local[name].message(alpha)), graph, "adjacency")
        self.runtime.each(lambda name: self.local[name].update(alpha, sums[name], graph.degree(name)))
        total_rho = float(self.runtime.sum(self.runtime.each(lambda name: self.local[name].rho)))
        self._iterations = k + 1
        phase = REPAIR if self.fixed else (RELAXED if self.mixed else CONVEX)
        return {"step_size": alpha, "sum_rho": total_rho, "phase": phase}

    def finish(self) -> dict[str, object]:
        if self.augmented:
            return {"allocation_update": "augmented", "price_scale": self.price_scale, "penalty": self.penalty,
                    "penalty_scale_S_c": self.penalty_scale, "largest_degree": self.max_degree,
                    "final_residual": float(self.runtime.sum(self.runtime.each(
                        lambda name: self.local[name].residual))), **self.graph_facts()}
        last_rho = float(self.runtime.sum(self.runtime.each(lambda name: self.local[name].rho)))
        facts: dict[str, object] = {"final_sum_rho": last_rho, "price_scale": self.price_scale,
                                    "penalty": self.penalty, **self.graph_facts()}
        if self.mixed:
            if not self.fixed:
                self._recover()
                self.warnings.append("the run ended before the mixed-integer recovery iteration; the recovered "
                                     "decisions had no repair iterations and may violate the coupling")
            facts.update(self.restriction)
        streaks = self.runtime.gather(self.runtime.each(lambda name: self.local[name].streak))
        penalties = self.runtime.gather(self.runtime.each(lambda name: self.local[name].penalty))
        if not streaks:  # not the root process: the root reports
            return facts
        raised = {name: int(round(np.log2(m / self.penalty))) for name, m in penalties.items() if m > self.penalty}
        facts["penalty_raises"] = raised
        if raised:
            log.info("agents that raised their penalty M (times doubled): %s", raised)
        name = max(streaks, key=lambda n: int(streaks[n].max(initial=0)))
        row = int(np.argmax(streaks[name])) if streaks[name].size else 0
        longest = int(streaks[name].max(initial=0))
        if longest >= max(50, self._iterations // 5):
            resource = self.problem.resources[int(self.rows.resource[row])].name
            warning = (f"agent '{name}' stayed on the same side outside its allocation of {resource} at step "
                       f"{int(self.rows.step[row])} over the last {longest} iterations (rho > 0; sum of rho now "
                       f"{last_rho:.3g}): its penalty M = {penalties[name]:.3g} (penalty_factor "
                       f"{self.options.penalty_factor:g} x price scale {self.price_scale:.3g}, raised "
                       f"{raised.get(name, 0)} times) may be too small (it must exceed "
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

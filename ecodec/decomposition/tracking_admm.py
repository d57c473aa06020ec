"""Tracking-ADMM (Falsone, Notarnicola, Notarstefano, Prandini, "Tracking-ADMM for distributed constraint-coupled
optimization", Automatica 117, 2020; ALGORITHMS.md section 5): fully distributed, no coordinator.

Coupled problem:  min sum_i f_i(x_i)  s.t.  x_i in X_i,  coupling rows  sum_i g_i(x_i) (== or <=) b
(:class:`CouplingRows`; a band is two inequality rows).  Every inequality row k gets a local slack sigma_ik >= 0
in every agent, so the coupling becomes one equality system

    sum_i A_i z_i = b,     A_i z_i = G_i x_i + g0_i + E_i sigma_i,     z_i = (x_i, sigma_i),

E_i placing the slacks on the inequality rows.  The right-hand side is split into equal shares b_i = b / N (any
split with sum_i b_i = b gives the same fixed point; equal shares need no information the agents do not have).

Per iteration k, agent i, with the consensus weights a_ij(k) of the graph active at k (Metropolis-Hastings,
self included; on a fixed graph a_ij(k) = a_ij):

    delta_i = sum_j a_ij(k) lambda_j^k,       s_i = sum_j a_ij(k) d_j^k                    (one message: lambda, d)
    z_i^{k+1} = argmin_{z in Z_i}  f_i(x) + delta_i' A_i z + (c/2) || A_i z - A_i z_i^k + s_i ||^2
    d_i^{k+1} = s_i + A_i z_i^{k+1} - A_i z_i^k
    lambda_i^{k+1} = delta_i + c d_i^{k+1}

initialised with z_i^0 = argmin_{Z_i} f_i (slacks 0), d_i^0 = A_i z_i^0 - b_i, lambda_i^0 = 0.  The reference
proves convergence on a fixed connected graph; ecodec also runs the iteration on time-varying graphs (the weights
of each iteration's active edges are doubly stochastic, so the tracking property below still holds exactly), where
its convergence is measured, not proved (docs/convex_methods.md).  Because the
weights are doubly stochastic, sum_i d_i^k = sum_i A_i z_i^k - b at every k: d_i tracks the coupling violation
(dynamic average tracking), and lambda_i the multiplier of the coupling (lambda_ik = -(d cost / d b_k)).

The local step is a QP.  Its Hessian c A_i' A_i is set once on the agent's compiled program; per iteration only
the linear cost  c_i + A_i'(delta_i + c (s_i - A_i z_i^k))  changes, so each step is a re-solve on the same HiGHS
instance, not a rebuild.  The QP is passed with its objective divided by c (the same minimiser, Hessian A_i' A_i):
HiGHS's active-set QP solver was measured to declare the microgrid's microturbine step unbounded when the Hessian
entries are of the size of c (1e-4), and to solve it once they are of order one.  The solve and its retries are
:func:`~ecodec.decomposition.local_solve.solve_local`'s.

Scale with the number of agents N.  The quadratic term penalises the change of one agent's contribution, whose
size is at most R, so c is measured against S_c = min(S, R) (the coupling's size when one agent can cover it all,
as a microgrid's grid connection: S_c = S there, and on every case where S <= R the iteration is the one c =
penalty Lambda / S gave before).  With c = penalty Lambda / S on a fleet of N vehicles sharing a feeder (S grows
as N, R does not), the QP divided by c has linear costs c_i / c up to S / penalty, N times the Hessian's entries
(of order one), and each multiplier moves by c d_i ~ Lambda / N per iteration: measured on the 1000-vehicle LP
fleet (``ecodec generate pev --n 1000 --variant lp``), cost gap 11.3% and relative violation 76% after 78
iterations, ETA of 3000 iterations 8 h.  With S_c = R (5 kW) both are independent of N: gap 2.0% and violation
11% after 4 iterations, 0.39% and 1.9% after 8.  HiGHS itself coped with the old scale: 100 random steps of ten
vehicles with c = Lambda / N all ended optimal at the first attempt up to N = 100000 (linear costs up to 2.9e5
against Hessian entries of 1-25), in 4.4 ms a solve with S_c = R and 8.7 ms at N = 100000.  Any c > 0 is covered by the
reference's convergence proof: this is a choice of the penalty, not a change of the iteration.

=========  ==========================  ============================================================================
symbol     option / name               meaning
=========  ==========================  ============================================================================
c          ``penalty``                 c = penalty x Lambda / S_c, Lambda the largest cost per unit of coupling
                                       contribution over the agents' columns (max-consensus), S_c = min(S, R): S
                                       the largest |b_k| (the rows' reach when every b_k is 0), R the largest
                                       contribution one agent's bounds allow to a row (``contribution_reach``, a
                                       max-consensus): ``penalty`` is dimensionless and needs no change with the
                                       case's units nor with the number of agents (below)
a_ij(k)    ``graph`` and its options   fixed, random or periodic graphs (:mod:`ecodec.network.time_varying`)
=========  ==========================  ============================================================================

Mixed-integer agents (a heuristic: HiGHS solves no mixed-integer QP, and the method's theory is convex).  With
``mixed_integer = "auto"`` the iteration runs on the LP relaxations of X_i for ``recovery_iteration`` iterations;
then every mixed-integer agent recovers a decision of its own set, keeping its slot in the coupling:

    z_i = argmin_{z in Z_i (integers)}  f_i(x) + lambda_i' A_i z + c S_c || A_i z - A_i z_i^k ||_1

(a MILP: the l1 term through one column t >= |.| per row; its weight c S_c = penalty Lambda is the slope of the
quadratic penalty at the scale S_c, so staying near the relaxed contribution comes first), fixes its integers, adds
A_i z_i - A_i z_i^k to d_i (so sum_i d_i still equals the violation) and the iteration goes on with the now
continuous problems until the coupling holds.  The run reports the gap and the violation it reached.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from ecodec.decomposition.coupling_rows import CouplingRows
from ecodec.decomposition.neighbour_driver import NeighbourDriver, contribution_reach, penalty_scale
from ecodec.decomposition.options import (TimeVaryingGraphOptions, mip_gap_option, mixed_integer_option, option,
                                          qp_solver_option)
from ecodec.decomposition.registry import PHASE_COLUMN, Column, MethodSpec, register
from ecodec.decomposition.stopping import CONVEX, PHASED, RELAXED, REPAIR
from ecodec.decomposition.priced_agent import price_scale
from ecodec.decomposition.local_solve import solve_local
from ecodec.solvers.compiled import CompiledSubproblem, SparseProduct

METHOD = "tracking-admm"


@dataclass(frozen=True)
class TrackingAdmmOptions(TimeVaryingGraphOptions):
    """Tracking-ADMM: ``penalty`` (c relative to Lambda / S, > 0), ``mixed_integer`` ('auto': relaxation, then
    recovery at ``recovery_iteration``; 'relaxed': LP relaxation only), ``mip_rel_gap`` of the recovery MILPs,
    and the graph options."""

    method = METHOD
    penalty: float = option(1.0, "-", "c relative to Lambda / S (dimensionless)", lower=0.0, lower_open=True)
    mixed_integer: str = mixed_integer_option()
    recovery_iteration: int = option(200, "iterations", "iteration of the mixed-integer recovery (mixed_integer "
                                     "auto)", lower=1)
    mip_rel_gap: float = mip_gap_option()
    qp_solver: str = qp_solver_option()


class _TrackingAgent:
    """Agent i: its program with slack columns and the QP term, and its state z_i, d_i, lambda_i."""

    state_attributes = ("z", "u", "d", "lam", "c", "_l1_rows", "_l1_cols")  # what a checkpoint keeps

    def __init__(self, sub: CompiledSubproblem, rows: CouplingRows, n_agents: int, qp_solver: str = "piqp"):
        self.sub, self.qp_solver = sub, qp_solver
        program = sub.program
        if sub.is_mixed_integer:
            program.relax_integrality(True)
        g, self.g0 = rows.local_rows(sub)
        inequality = np.flatnonzero(~rows.equality)
        self.slack = program.add_columns(np.zeros(inequality.size), 0.0, np.inf)
        e = sp.csr_array((np.ones(inequality.size), (inequality, np.arange(inequality.size))),
                         shape=(rows.size, inequality.size))
        self.a = sp.csr_array(sp.hstack([g, e]))
        self.a_product, self.a_t_product = SparseProduct(self.a), SparseProduct(self.a, transpose=True)
        self.n = self.a.shape[1]
        self.columns = np.arange(self.n)
        self.cost = np.concatenate([sub.cost_vector, np.zeros(inequality.size)])
        self.price_scale = price_scale(self.cost[: sub.n_model_columns], g)
        self.share = rows.total / n_agents
        solution = solve_local(sub, METHOD, None, what="the agent's own problem (no coupling)")
        self.z = solution.x[: self.n].copy()
        self.z[self.slack] = 0.0
        self.u = self.a @ self.z
        self.d = self.u + self.g0 - self.share
        self.lam = np.zeros(rows.size)
        self.c = 0.0
        self._l1_rows: np.ndarray | None = None
        self._l1_cols: np.ndarray | None = None

    def set_penalty(self, c: float) -> None:
        """The QP term: Hessian A_i' A_i over the program's columns, set once (the objective is divided by c)."""
        self.c = c
        q = sp.csc_array(self.a.T @ self.a)
        q.resize((self.sub.program.n_cols, self.sub.program.n_cols))
        self.sub.program.set_hessian(q, solver=self.qp_solver)

    def message(self) -> np.ndarray:
        return np.concatenate([self.lam, self.d])

    def step(self, mixed: np.ndarray, iteration: int) -> np.ndarray:
        """delta_i, s_i from the weighted messages ``mixed``, then the QP step and the tracker and multiplier
        updates."""
        size = self.lam.size
        delta, s = mixed[:size], mixed[size:]
        program = self.sub.program
        program.set_costs(self.columns, self.cost / self.c + self.a_t_product(delta / self.c + s - self.u))
        solution = solve_local(self.sub, METHOD, iteration + 1, lambda: {
            "c": self.c, "largest |delta_i|": float(np.max(np.abs(delta), initial=0.0)),
            "largest |s_i|": float(np.max(np.abs(s), initial=0.0)),
            "largest |b_i|": float(np.max(np.abs(self.share), initial=0.0))})
        self.z = solution.x[: self.n]
        u = self.a_product(self.z)
        self.d = s + u - self.u
        self.u = u
        self.lam = delta + self.c * self.d
        return self.z

    def _add_l1_terms(self) -> None:
        """The columns t >= |A_i z - target| of the recovery's l1 term (once; free rows until a recovery)."""
        program, p = self.sub.program, self.u.size
        self._l1_cols = program.add_columns(np.zeros(p), 0.0, np.inf)
        a = sp.csr_array(self.a, copy=True)
        a.resize((p, program.n_cols - p))
        eye = sp.eye_array(p, format="csr")
        self._l1_rows = np.concatenate([
            program.add_rows(sp.hstack([a, -eye]), np.full(p, -np.inf), np.full(p, np.inf)),
            program.add_rows(sp.hstack([a, eye]), np.full(p, -np.inf), np.full(p, np.inf))])

    def restore_structure(self, saved: dict) -> None:
        """Resuming after the recovery: the l1 columns and rows it appended, and the QP term over them."""
        if saved["_l1_cols"] is not None and self._l1_cols is None:
            self.sub.program.set_hessian(sp.csc_array((self.sub.program.n_cols, self.sub.program.n_cols)))
            self._add_l1_terms()
            self.set_penalty(self.c)

    def recover(self, weight: float) -> None:
        """The mixed-integer recovery of the module docstring; the integers are fixed afterwards."""
        sub, program = self.sub, self.sub.program
        target = self.u
        p = target.size
        program.set_hessian(sp.csc_array((program.n_cols, program.n_cols)))
        if self._l1_cols is None:
            self._add_l1_terms()
        program.set_row_bounds(self._l1_rows, np.concatenate([np.full(p, -np.inf), target]),
                               np.concatenate([target, np.full(p, np.inf)]))
        program.set_costs(self.columns, self.cost + self.a_t_product(self.lam))
        program.set_costs(self._l1_cols, np.full(p, weight))
        program.set_column_bounds(self._l1_cols, 0.0, np.inf)
        program.relax_integrality(False)
        solution = solve_local(sub, METHOD, "at the recovery", {"c": self.c, "l1 weight": weight},
                               what="the mixed-integer recovery")
        sub.fix_integers(solution.x)
        program.set_row_bounds(self._l1_rows, np.full(2 * p, -np.inf), np.full(2 * p, np.inf))
        program.set_costs(self._l1_cols, np.zeros(p))
        program.set_column_bounds(self._l1_cols, 0.0, 0.0)
        self.z = solution.x[: self.n]
        u = self.a @ self.z
        self.d = self.d + u - self.u
        self.u = u
        self.set_penalty(self.c)


@register(MethodSpec(
    METHOD, "Tracking-ADMM: fully distributed ADMM in which each agent tracks the coupling violation by consensus "
    "(no coordinator)", kinds=("coupled",), options=TrackingAdmmOptions, stopping=PHASED, columns=(
        Column("penalty", "c, the ADMM penalty in the case's units"),
        Column("active_edges", "edges of the graph active at this iteration"), PHASE_COLUMN)))
class TrackingAdmm(NeighbourDriver):
    """Tracking-ADMM; the math is in the module docstring."""

    state_attributes = ("fixed", "broken_windows")

    def setup(self) -> None:
        n_agents = len(self.problem.agents)
        ratio = self.compile_agents(lambda sub: _TrackingAgent(sub, self.rows, n_agents, self.options.qp_solver),
                                    self.options.mip_rel_gap)
        reach = float(self.runtime.maximum(self.runtime.each(
            lambda name: np.array([contribution_reach(self.local[name].sub, self.rows)])), count=True)[0])
        self.penalty_scale = penalty_scale(self.scale, reach)  # S_c of the module docstring
        self.c = self.options.penalty * ratio * self.scale / self.penalty_scale
        self.runtime.each(lambda name: self.local[name].set_penalty(self.c))
        self.decisions = {name: agent.z[: agent.sub.n_model_columns] for name, agent in self.local.items()}
        self.mixed = self.options.mixed_integer == "auto" and self.problem.is_mixed_integer()
        self.fixed = False

    def _recover(self) -> None:
        weight = self.c * self.penalty_scale  # penalty x Lambda
        self.runtime.each(lambda name: self.local[name].recover(weight)
                          if self.subproblems[name].integer_columns.size else None)
        self.decisions = {name: agent.z[: agent.sub.n_model_columns] for name, agent in self.local.items()}
        self.fixed = True

    def iterate(self, k: int) -> dict[str, float]:
        if self.mixed and not self.fixed and k == self.options.recovery_iteration:
            self._recover()
        graph = self.active_graph(k)
        mixed = self.runtime.mix(self.runtime.each(lambda name: self.local[name].message()), graph)
        self.decisions = self.runtime.each(lambda name: self.local[name].step(
            mixed[name], k)[: self.subproblems[name].n_model_columns])
        return {"penalty": self.c, "active_edges": float(graph.n_edges),
                "phase": REPAIR if self.fixed else (RELAXED if self.mixed else CONVEX)}

    def finish(self) -> dict[str, object]:
        facts: dict[str, object] = {"penalty_c": self.c, "penalty_scale_S_c": self.penalty_scale,
                                    **self.graph_facts()}
        if self.mixed and not self.fixed:
            self._recover()
            self.warnings.append("the run ended before the mixed-integer recovery iteration; the recovered "
                                 "decisions had no iterations after it and may violate the coupling")
        return facts


__all__ = ["TrackingAdmm", "TrackingAdmmOptions"]

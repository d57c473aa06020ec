"""Proximal minimization for structured programs (Belluschi, Falsone, Ioli, Margellos, Garatti, Prandini,
"Distributed optimization for structured programs and its application to energy management in a building
district", arXiv 1610.06332, extending Margellos, Falsone, Garatti, Prandini, "Distributed constrained
optimization and consensus in uncertain networks via proximal minimization", IEEE TAC 63(5), 2018;
ALGORITHMS_WAVE2.md section 5.1): fully distributed, no coordinator, agents exchange tentative values of the
global variables only.

Structured program (:class:`~ecodec.problem.structured.StructuredProblem`; a coupled problem is read in its
structured form):  min sum_i f_i(x_i)  s.t.  (y, x_i) in X_i,  with x_i agent i's local decisions and y the global
variables (the agents' contributions to the shared resources; X_i holds agent i's constraints, its own blocks
y_(i,r) = h_i,r(x_i) and the coupling rows on y).  Every agent keeps a copy y_i of y.  Per iteration k, agent i,
with the consensus weights a_ij(k) of the graph active at k (Metropolis-Hastings, self included, doubly
stochastic):

    z_i(k)            = sum_j a_ij(k) y_j(k)                                     (one message: y_j, G floats)
    (y_i, x_i)(k+1)   = argmin_{(y, x) in X_i}  f_i(x) + ||y - z_i(k)||^2 / (2 c(k))

    c(k) = step_size x S / (Lambda (k + 1)^step_decay)     (non-increasing, sum c = inf, sum c^2 < inf)

with y_i(0) = 0.  On graphs whose union over every window of B iterations is connected, the copies reach
consensus on an optimal y and sum_i f_i(x_i(k)) tends to the optimum (the reference's Theorem; the local x_i
converge when the f_i are strictly convex, otherwise their costs and the blocks they feed do).  S is the scale
of the coupling rows (the largest |b|, or their reach when every b is 0: a self-balancing district) and Lambda the
largest cost per unit of contribution (both by max-consensus at set-up, as for the other graph methods,
:mod:`~ecodec.decomposition.neighbour_driver`): c(k) Lambda is the distance a proximal step can move a global
variable, so ``step_size`` is a fraction of the rows' scale and needs no change with the case's units.  The defaults
(step_size 3, step_decay 1: the c0 / (k + 1) the reference suggests testing) were chosen from the schedules measured
on cooling_district_4 (docs/structured_programs.md): both graphs reach a 1% gap, violation and consensus error, at
about 3410 (fixed) and 4650 (random edges, p = 0.5) iterations.

The local step is a QP on the agent's compiled program: G columns for y_i, the definition rows of its blocks and
the coupling rows on y_i are appended once, and the problem is passed as  c(k) f_i(x) + ||y||^2 / 2 - z_i' y
(the same minimiser): the Hessian, the identity on the y columns, is set once; per iteration only the linear cost
changes.  The multiplier estimate of each coupling row is the sum over the agents of its dual in their steps,
divided by c(k) (every agent holds the rows; the prices are reported from it).

A local QP that ends without a solution (HiGHS's active-set QP solver was seen to stop at its iteration limit once
in 3000 iterations of a random-graph run) leaves the agent's copy as it was for that iteration, as if the agent had
not been woken, with a warning in the log and in the run's warnings; three failures in a row stop the run with the
agent, the iterations and the solver's status.

History: ``consensus_error`` = max_i ||y_i - ybar||_inf / S (ybar the agents' average copy), a diagnostic the
stopping rule reads (the coupling violation of the decisions, measured as for every method, falls with it).

=========  ==========================  ============================================================================
symbol     option / name               meaning
=========  ==========================  ============================================================================
c(k)       ``step_size``,              c(0) relative to S / Lambda (dimensionless), and the exponent of its decay
           ``step_decay``
a_ij(k)    ``graph`` and its options   fixed, random or periodic graphs (:mod:`ecodec.network.time_varying`)
G          ``floats_per_message``      |blocks| x T: the length of y (info of the run)
=========  ==========================  ============================================================================
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from ecodec.decomposition.coupling_rows import CouplingRows
from ecodec.decomposition.neighbour_driver import NeighbourDriver, consensus_mix
from ecodec.decomposition.options import OptionError, TimeVaryingGraphOptions, decay_option, option
from ecodec.decomposition.priced_agent import price_scale
from ecodec.decomposition.registry import Column, MethodSpec, register
from ecodec.decomposition.stopping import Consensus
from ecodec.errors import SolveError
from ecodec.problem.structured import StructuredProblem
from ecodec.solvers.compiled import CompiledSubproblem

log = logging.getLogger(__name__)
METHOD = "proximal-minimization"


@dataclass(frozen=True)
class ProximalMinimizationOptions(TimeVaryingGraphOptions):
    """Proximal minimization: ``step_size`` and ``step_decay`` of c(k), and the graph options."""

    method = METHOD
    step_size: float = option(3.0, "-", "c(0) relative to S / Lambda: the fraction of the rows' scale a first "
                              "proximal step may move a global variable", lower=0.0, lower_open=True)
    step_decay: float = decay_option(1.0)


@dataclass(frozen=True)
class GlobalLayout:
    """The blocks of the global vector: ``owner[b]`` the agent index and ``resource[b]`` the resource index of
    block b (resource by resource, agents in problem order), T steps each.

    >>> layout = GlobalLayout.from_feeds(np.array([[1.0, 0.0], [1.0, 1.0]]), T=3)  # agent 1 feeds both resources
    >>> layout.owner.tolist(), layout.resource.tolist(), layout.size
    ([0, 1, 1], [0, 0, 1], 9)
    """

    owner: np.ndarray
    resource: np.ndarray
    T: int

    @classmethod
    def from_feeds(cls, feeds: np.ndarray, T: int) -> GlobalLayout:
        """From the 0/1 matrix feeds[agent, resource]."""
        resource, owner = np.nonzero(feeds.T > 0.5)
        return cls(owner=owner, resource=resource, T=T)

    @property
    def size(self) -> int:
        return self.owner.size * self.T


def _sparse(entries: list[tuple[int, int, float]], shape: tuple[int, int]) -> sp.csr_array:
    """A CSR matrix from (row, column, value) triples (duplicates added)."""
    r, c, v = zip(*entries) if entries else ((), (), ())
    return sp.csr_array((np.asarray(v, dtype=float), (np.asarray(r, dtype=int), np.asarray(c, dtype=int))),
                        shape=shape)


class _ProximalAgent:
    """Agent i: its program with the copy y_i of the global variables, and its state."""

    state_attributes = ("y", "x", "lam", "failed")  # what a checkpoint keeps

    def __init__(self, sub: CompiledSubproblem, rows: CouplingRows, agent_index: int):
        self.sub, self.rows, self.index = sub, rows, agent_index
        g, _ = rows.local_rows(sub)
        self.price_scale = price_scale(sub.cost_vector, g)
        self.feeds = np.array([r in sub.fed for r in sub.resources], dtype=float)

    def append_copy(self, layout: GlobalLayout) -> None:
        """The columns of the reduced step (module docstring): y_own and w, the definitions of the agent's own
        blocks, the coupling rows, the Hessian."""
        sub, program, T, rows = self.sub, self.sub.program, layout.T, self.rows
        n = program.n_cols
        own = np.flatnonzero(layout.owner == self.index)
        self.own_entries = (own[:, None] * T + np.arange(T)).ravel()
        self.y_cols = program.add_columns(np.zeros(self.own_entries.size), -np.inf, np.inf)
        others = np.bincount(layout.resource, minlength=rows.n_resources) - np.bincount(
            layout.resource[own], minlength=rows.n_resources)
        keys = sorted({(r, t) for r, t in zip(rows.resource, rows.step) if others[r] > 0})
        w_of = {key: j for j, key in enumerate(keys)}
        self.w_cols = program.add_columns(np.zeros(len(keys)), -np.inf, np.inf)
        size = program.n_cols
        h = sub.contribution_map
        position = {int(b): j for j, b in enumerate(own)}
        definitions, offsets = [], []
        for b in own:
            select = layout.resource[b] * T + np.arange(T)
            pick = sp.csr_array((-np.ones(T), (np.arange(T), self.y_cols[position[int(b)] * T + np.arange(T)])),
                                shape=(T, size))
            model = sp.csr_array(h.matrix[select])
            model.resize((T, size))
            definitions.append(model + pick)
            offsets.append(-h.offset[select])
        if definitions:
            rhs = np.concatenate(offsets)
            program.add_rows(sp.csr_array(sp.vstack(definitions)), rhs, rhs)
        # coupling row k:  s_k (y_own,r,t + w_r,t) (== or <=) b_k - s_k sum_{other blocks of r} z_b,t
        entries, others_sum, expand = [], [], []
        for k in range(rows.size):
            r, t, sign = rows.resource[k], rows.step[k], rows.sign[k]
            for b in np.flatnonzero(layout.resource == r):
                if layout.owner[b] == self.index:
                    entries.append((k, self.y_cols[position[int(b)] * T + t], sign))
                else:
                    others_sum.append((k, b * T + t, sign))
            if (r, t) in w_of:
                entries.append((k, self.w_cols[w_of[(r, t)]], sign))
        for (r, t), j in w_of.items():
            expand += [(b * T + t, j, 1.0 / others[r]) for b in np.flatnonzero(layout.resource == r)
                       if layout.owner[b] != self.index]
        self.others_sum = _sparse(others_sum, (rows.size, layout.size))
        self.expand = _sparse(expand, (layout.size, len(keys)))
        upper = rows.total
        self.coupling = program.add_rows(_sparse(entries, (rows.size, size)),
                                         np.where(rows.equality, upper, -np.inf), upper)
        diagonal = np.concatenate([np.ones(self.y_cols.size), 1.0 / others[[r for r, _ in keys]]])
        columns = np.concatenate([self.y_cols, self.w_cols])
        program.set_hessian(sp.csc_array((diagonal, (columns, columns)), shape=(size, size)))
        self.n_model = sub.n_model_columns
        self.y = np.zeros(layout.size)
        self.x: np.ndarray | None = None
        self.lam = np.zeros(rows.size)
        self.failed: list[tuple[int, str]] = []  # (iteration, status) of local QPs without a solution

    def step(self, weights: dict[str, float], own: str, inbox: dict[str, np.ndarray], c: float, k: int) -> None:
        """z_i from the neighbours' copies, then the proximal step (the reduced QP) and the whole copy y_i."""
        z = consensus_mix(weights, own, self.y, inbox)
        program, rows = self.sub.program, self.rows
        program.set_costs(np.arange(self.n_model), c * self.sub.cost_vector)
        program.set_costs(self.y_cols, -z[self.own_entries])
        upper = rows.total - self.others_sum @ z
        program.set_row_bounds(self.coupling, np.where(rows.equality, upper, -np.inf), upper)
        solution = program.solve()
        if not solution.has_solution:
            self.failed.append((k + 1, solution.status))
            if len(self.failed) < 3 or self.failed[-3][0] < k - 1:  # keeps its copy, as if it had not been woken
                log.warning("proximal-minimization: agent '%s' (%s): the local QP ended '%s' at iteration %d; the "
                            "agent keeps its previous copy for this iteration", self.sub.agent_name, self.sub.kind,
                            solution.status, k + 1)
                return
            raise SolveError(f"proximal-minimization: the local problem of agent '{self.sub.agent_name}' "
                             f"({self.sub.kind}) has no solution at iterations {k - 1}, {k} and {k + 1} "
                             f"({solution.status})")
        self.x = solution.x[: self.n_model]
        y = z + self.expand @ solution.x[self.w_cols]
        y[self.own_entries] = solution.x[self.y_cols]
        self.y = y
        if solution.row_dual is not None:  # HiGHS: dual = d objective / d bound; mu_k = -(d cost / d b_k)
            self.lam = -solution.row_dual[self.coupling] / c

    def spread(self, mean: np.ndarray) -> float:
        return float(np.max(np.abs(self.y - mean), initial=0.0))


@register(MethodSpec(
    METHOD, "proximal minimization for structured programs: agents agree on copies of the global variables by "
    "consensus, each solving its own problem with a proximal term (no coordinator)", kinds=("structured", "coupled"),
    options=ProximalMinimizationOptions, stopping=(Consensus(),), columns=(
        Column("step_size", "c(k), the proximal weight in the case's units"),
        Column("consensus_error", "max over agents of |y_i - ybar| over the rows' scale S", label="consensus"),
        Column("active_edges", "edges of the graph active at this iteration")),
    progress=("rel_violation", "cost_gap", "consensus_error"), default_for=("structured",)))
class ProximalMinimization(NeighbourDriver):
    """Proximal minimization; the math is in the module docstring."""

    state_attributes = ("broken_windows",)

    def setup(self) -> None:
        self.problem = StructuredProblem.of(self.problem)
        integer = [a.name for a in self.problem.agents if a.is_mixed_integer()]
        if integer:
            raise OptionError(f"method '{METHOD}' solves convex structured programs; agent '{integer[0]}' of case "
                              f"'{self.problem.name}' has integer decisions (use primal-decomposition or dualbi)")
        order = {a.name: i for i, a in enumerate(self.problem.agents)}
        ratio = self.compile_agents(lambda sub: _ProximalAgent(sub, self.rows, order[sub.agent_name]))
        self.c0 = self.options.step_size / ratio
        n = len(self.problem.agents)

        def feeds(name):
            out = np.zeros((n, len(self.problem.resources)))
            out[order[name]] = self.local[name].feeds
            return out.ravel()

        grid = self.runtime.maximum(self.runtime.each(feeds), count=True).reshape(n, -1)
        self.layout = GlobalLayout.from_feeds(grid, self.problem.grid.T)
        self.runtime.each(lambda name: self.local[name].append_copy(self.layout))

    def iterate(self, k: int) -> dict[str, float]:
        c = self.c0 / (k + 1) ** self.options.step_decay
        graph = self.active_graph(k)
        inbox = self.runtime.exchange(self.runtime.each(lambda name: self.local[name].y), graph)
        self.runtime.each(lambda name: self.local[name].step(graph.weights_of(name), name, inbox[name], c, k))
        self.decisions = {name: agent.x for name, agent in self.local.items()}
        mean = self.runtime.sum(self.runtime.each(lambda name: self.local[name].y)) / len(self.problem.agents)
        spread = self.runtime.maximum(self.runtime.each(lambda name: self.local[name].spread(mean)))
        return {"step_size": c, "consensus_error": float(spread) / self.scale, "active_edges": float(graph.n_edges)}

    def prices(self) -> np.ndarray:
        total = self.runtime.sum(self.runtime.each(lambda name: self.local[name].lam))
        return self.rows.prices(total, self.problem.grid.step_h)

    def finish(self) -> dict[str, object]:
        failed = self.runtime.gather(self.runtime.each(lambda name: list(self.local[name].failed)))
        for name, steps in failed.items():
            if steps:
                self.warnings.append(f"agent '{name}': {len(steps)} local QP(s) without a solution (first at "
                                     f"iteration {steps[0][0]}: {steps[0][1]}); it kept its previous copy there")
        return {"floats_per_message": self.layout.size, "global_blocks": int(self.layout.owner.size),
                **self.graph_facts()}


__all__ = ["GlobalLayout", "ProximalMinimization", "ProximalMinimizationOptions"]

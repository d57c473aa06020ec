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

The local step is a reduced QP on the agent's compiled program, passed as  c(k) f_i(x) + ||y||^2 / 2 - z_i' y
(the same minimiser).  The other agents' blocks of y_i enter it only through the coupling rows, and for fixed own
blocks the copy closest to z_i that meets row k moves each of the m_r other blocks of its resource r at its step t
by the same amount w_r,t / m_r, at a cost w_r,t^2 / (2 m_r).  So the QP has a column per entry of the agent's own
blocks and one column w_r,t per (r, t) with rows and other blocks; its rows are the definitions of its blocks and
the coupling rows  s_k (y_own,r,t + w_r,t) (== or <=) b_k - s_k sum_{other blocks b of r} z_b,t.  Hessian (1 on the
own columns, 1/m_r on w), definitions and rows are set once; per iteration the costs and the rows' bounds change,
and the copy is z_i with w_r,t / m_r added to the other blocks of r at t and the own blocks from the solution.
The multiplier estimate of each coupling row is the sum over the agents of its dual in their steps, divided by c(k)
(every agent holds the rows; the prices are reported from it).

Cost.  Each agent holds two copies of G floats (y_i(k), which its neighbours read, and the buffer y_i(k + 1) is
formed in: z_i, the others' sums over z_i reshaped to (blocks, T) and the spreading of w work in place), and a
message is G floats; in one process the copies travel by reference.  A fleet of N agents feeding R resources over T
steps has G = N R T (each agent feeding each resource): 16 N^2 R T bytes of copies in all, and per iteration sum_i
(d_i + 3) G floats of work besides the N small QPs (d_i agent i's neighbours); the set-up beyond compiling the
agents is O(rows + blocks) per agent.  Measured (docs/structured_programs.md, LP fleets, T = 24, mean degree 3 ln N,
5 iterations, 2 shared cores): 400 vehicles 0.37 GB peak, 0.7-2 s an iteration; 2000 vehicles 2.0 GB peak (1.5 GB of
copies), set-up 5.5 s (66 s on a heavily loaded machine), 6-7 s an iteration (up to 30 s loaded).  Memory grows as
N^2 and an iteration as N^2 ln N: from about 2000 vehicles the thousands of iterations the method needs take hours,
and from about 7000 the copies alone (16 N^2 T bytes: 19 GB) outgrow a machine of 24 GB.

A local QP that ends without a solution after the retries of :func:`~ecodec.decomposition.local_solve.solve_local`
(HiGHS's active-set QP solver was seen to stop at its iteration limit once in 3000 iterations of a random-graph run)
leaves the agent's copy as it was for that iteration, as if the agent had not been woken, with a warning in the log
and in the run's warnings; a third failure in a row stops the run with solve_local's error (the agent, the
iteration, every attempt's status, the program's number ranges, c(k) and the largest |z_i|).

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
from ecodec.decomposition.local_solve import solve_local
from ecodec.decomposition.neighbour_driver import NeighbourDriver
from ecodec.decomposition.options import OptionError, TimeVaryingGraphOptions, decay_option, option, qp_solver_option
from ecodec.decomposition.priced_agent import price_scale
from ecodec.decomposition.registry import Column, MethodSpec, register
from ecodec.decomposition.stopping import Consensus
from ecodec.errors import ProblemError, SolveError
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
    qp_solver: str = qp_solver_option()


@dataclass(frozen=True)
class GlobalLayout:
    """The blocks of the global vector: ``owner[b]`` the agent index and ``resource[b]`` the resource index of
    block b (resource by resource, agents in problem order), T steps each.  y reshaped to (blocks, T) holds block
    b in row b, and the blocks of resource r are the rows ``starts[r]:starts[r + 1]``.

    >>> layout = GlobalLayout.from_feeds(np.array([[1.0, 0.0], [1.0, 1.0]]), T=3)  # agent 1 feeds both resources
    >>> layout.owner.tolist(), layout.resource.tolist(), layout.size, layout.starts(2).tolist()
    ([0, 1, 1], [0, 0, 1], 9, [0, 2, 3])
    """

    owner: np.ndarray
    resource: np.ndarray
    T: int

    def __post_init__(self) -> None:
        owner, resource = np.asarray(self.owner), np.asarray(self.resource)
        if owner.ndim != 1 or owner.shape != resource.shape:
            raise ProblemError(f"global layout: owner and resource must be index vectors of one length, got shapes "
                               f"{owner.shape} and {resource.shape}")
        key = resource.astype(np.int64) * (int(np.max(owner, initial=0)) + 1) + owner
        if owner.size and (min(np.min(owner), np.min(resource)) < 0 or np.any(np.diff(key) <= 0)):
            raise ProblemError("global layout: expected indices >= 0 and blocks ordered resource by resource, agents "
                               "in increasing order within a resource, at most one block per agent and resource")

    @classmethod
    def from_feeds(cls, feeds: np.ndarray, T: int) -> GlobalLayout:
        """From the 0/1 matrix feeds[agent, resource]."""
        resource, owner = np.nonzero(feeds.T > 0.5)
        return cls(owner=owner, resource=resource, T=T)

    @property
    def size(self) -> int:
        return self.owner.size * self.T

    def starts(self, n_resources: int) -> np.ndarray:
        """The first block of each resource, and the number of blocks last (n_resources + 1 entries)."""
        return np.searchsorted(self.resource, np.arange(n_resources + 1))


class _Workspace:
    """Memory an agent always writes before it reads, so no part of its state (a resumed run puts y back): the two
    buffers of G floats its copy alternates between, and ``scratch`` (G floats), which the agents of one process
    may share as they step one after another."""

    __slots__ = ("copies", "scratch")

    def __init__(self, size: int, scratch: np.ndarray | None):
        self.copies = (np.zeros(size), np.zeros(size))
        self.scratch = np.empty(size) if scratch is None else scratch

    def free(self, y: np.ndarray) -> np.ndarray:
        """The buffer that is not the copy ``y`` (neither is, after a restore: then the first)."""
        return self.copies[1] if y is self.copies[0] else self.copies[0]


class _ProximalAgent:
    """Agent i: its program with the copy y_i of the global variables, and its state.

    A step writes z_i and then y_i(k + 1) into the buffer of :class:`_Workspace` its neighbours are not reading
    (they read y_i(k), passed by reference within a process) and makes it the copy: two copies of G floats per
    agent, and nothing else of that size."""

    state_attributes = ("y", "x", "lam", "failed")  # what a checkpoint keeps

    def __init__(self, sub: CompiledSubproblem, rows: CouplingRows, agent_index: int, qp_solver: str = "piqp"):
        self.sub, self.rows, self.index, self.qp_solver = sub, rows, agent_index, qp_solver
        g, _ = rows.local_rows(sub)
        self.price_scale = price_scale(sub.cost_vector, g)
        self.feeds = np.array([r in sub.fed for r in sub.resources], dtype=float)

    def append_copy(self, layout: GlobalLayout, scratch: np.ndarray | None = None) -> None:
        """The columns of the reduced step (module docstring): y_own and w, the definitions of the agent's own
        blocks, the coupling rows, the Hessian; O(rows + blocks) work, nothing of size G but the buffers."""
        sub, program, T, rows = self.sub, self.sub.program, layout.T, self.rows
        R = rows.n_resources
        self.T, self.starts = T, layout.starts(R)
        own = np.flatnonzero(layout.owner == self.index)
        self.own_blocks, self.own_entries = own, (own[:, None] * T + np.arange(T)).ravel()
        self.y_cols = program.add_columns(np.zeros(self.own_entries.size), -np.inf, np.inf)
        position = np.full(R, -1)
        position[layout.resource[own]] = np.arange(own.size)
        others = np.diff(self.starts) - (position >= 0)  # m_r: the other agents' blocks of resource r
        code = rows.resource * T + rows.step
        shared = others[rows.resource] > 0
        keys = np.unique(code[shared])  # the (r, t) of the w columns, in (r, t) order
        self.w_cols = program.add_columns(np.zeros(keys.size), -np.inf, np.inf)
        self.key_resource, self.key_step = keys // T, keys % T
        self.key_weight = 1.0 / others[self.key_resource]
        self.spread_resources = np.flatnonzero(others > 0)
        size = program.n_cols
        if own.size:  # h_i,r,t(x) - y_own,r,t = -h0_i,r,t  for the agent's blocks, in block order
            h = sub.contribution_map
            select = (layout.resource[own][:, None] * T + np.arange(T)).ravel()
            model = sp.coo_array(h.matrix[select])
            rhs = -h.offset[select]
            definitions = sp.csr_array((np.concatenate([model.data, -np.ones(select.size)]),
                                        (np.concatenate([model.row, np.arange(select.size)]),
                                         np.concatenate([model.col, self.y_cols]))), shape=(select.size, size))
            definitions.sum_duplicates()  # canonical: sorted column indices in each row
            program.add_rows(definitions, rhs, rhs)
        # coupling row k:  s_k (y_own,r,t + w_r,t) (== or <=) b_k - s_k sum_{other blocks of r} z_b,t
        mine = np.flatnonzero(position[rows.resource] >= 0)
        row = np.concatenate([mine, np.flatnonzero(shared)])
        column = np.concatenate([self.y_cols[position[rows.resource[mine]] * T + rows.step[mine]],
                                 self.w_cols[np.searchsorted(keys, code[shared])]])
        matrix = sp.csr_array((rows.sign[row].astype(float), (row, column)), shape=(rows.size, size))
        upper = rows.total
        self.coupling = program.add_rows(matrix, np.where(rows.equality, upper, -np.inf), upper)
        diagonal = np.concatenate([np.ones(self.y_cols.size), self.key_weight])
        columns = np.concatenate([self.y_cols, self.w_cols])
        program.set_hessian(sp.csc_array((diagonal, (columns, columns)), shape=(size, size)),
                            solver=self.qp_solver)
        self.n_model = sub.n_model_columns
        self.work = _Workspace(layout.size, scratch)
        self.y = self.work.copies[0]
        self.x: np.ndarray | None = None
        self.lam = np.zeros(rows.size)
        self.failed: list[tuple[int, str]] = []  # (iteration, status) of local QPs without a solution

    def _mix(self, weights: dict[str, float], own: str, inbox: dict[str, np.ndarray]) -> np.ndarray:
        """z_i = sum_j a_ij y_j (added in the row's agent order, as the runtime's
        :meth:`~ecodec.runtime.InProcessRuntime.mix` adds them) into the buffer that is not the copy: the copies
        are global (every agent's resources), so mixing them here, in place, keeps one copy and one buffer per agent
        where the runtime's mix would stack every agent's copy and return as many more."""
        z, scratch = self.work.free(self.y), self.work.scratch
        for n, (j, a) in enumerate(weights.items()):
            np.multiply(self.y if j == own else inbox[j], a, out=z if n == 0 else scratch)
            if n:
                z += scratch
        return z

    def step(self, weights: dict[str, float], own: str, inbox: dict[str, np.ndarray], c: float, k: int) -> None:
        """z_i from the neighbours' copies, then the proximal step (the reduced QP) and the whole copy y_i."""
        z = self._mix(weights, own, inbox)
        program, rows = self.sub.program, self.rows
        program.set_costs(np.arange(self.n_model), c * self.sub.cost_vector)
        program.set_costs(self.y_cols, -z[self.own_entries])
        blocks = z.reshape(-1, self.T)
        blocks[self.own_blocks] = 0.0  # the sums below run over the other agents' blocks; the step rewrites these
        sums = np.stack([blocks[a:b].sum(axis=0) for a, b in zip(self.starts[:-1], self.starts[1:])])
        upper = rows.total - rows.sign * sums[rows.resource, rows.step]
        program.set_row_bounds(self.coupling, np.where(rows.equality, upper, -np.inf), upper)
        try:
            solution = solve_local(self.sub, METHOD, k + 1, lambda: {"c(k)": c, "largest |z_i|": float(
                np.max(np.abs(z), initial=0.0))}, what="the local QP")
        except SolveError as error:
            self.failed.append((k + 1, program.attempts[-1][1] if program.attempts else "error"))
            if len(self.failed) < 3 or self.failed[-3][0] < k - 1:  # keeps its copy, as if it had not been woken
                log.warning("%s; the agent keeps its previous copy for this iteration", error)
                return
            raise
        self.x = solution.x[: self.n_model]
        move = np.zeros((rows.n_resources, self.T))  # w_r,t / m_r on each other block of resource r at step t
        move[self.key_resource, self.key_step] = self.key_weight * solution.x[self.w_cols]
        for r in self.spread_resources:  # (a broadcast add would take a buffer of up to 64 kB from numpy)
            a, b = self.starts[r], self.starts[r + 1]
            rows_of_r = self.work.scratch[: (b - a) * self.T].reshape(b - a, self.T)
            rows_of_r[:] = move[r]
            blocks[a:b] += rows_of_r
        blocks[self.own_blocks] = solution.x[self.y_cols].reshape(-1, self.T)
        self.y = z
        if solution.row_dual is not None:  # HiGHS: dual = d objective / d bound; mu_k = -(d cost / d b_k)
            self.lam = -solution.row_dual[self.coupling] / c

    def spread(self, mean: np.ndarray) -> float:
        """max_t |y_i - mean| (through the scratch buffer: no temporary of size G)."""
        scratch = self.work.scratch
        np.subtract(self.y, mean, out=scratch)
        return float(np.max(np.abs(scratch, out=scratch), initial=0.0))


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
        ratio = self.compile_agents(lambda sub: _ProximalAgent(sub, self.rows, order[sub.agent_name],
                                                                     self.options.qp_solver))
        self.c0 = self.options.step_size / ratio
        n = len(self.problem.agents)

        def feeds(name):
            out = np.zeros((n, len(self.problem.resources)))
            out[order[name]] = self.local[name].feeds
            return out.ravel()

        grid = self.runtime.maximum(self.runtime.each(feeds), count=True).reshape(n, -1)
        self.layout = GlobalLayout.from_feeds(grid, self.problem.grid.T)
        scratch = np.empty(self.layout.size)  # one per process: the agents of a process step one after another
        self.runtime.each(lambda name: self.local[name].append_copy(self.layout, scratch))

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

"""A linear resource-sharing program among N agents, compiled once on HiGHS, with one spare agent slot.

The program (minimisation form; a maximisation of profit is the minimisation of its negative)::

    J_N = min  sum_i c_i' x_i   s.t.   sum_i A_i x_i <= b            (shared rows, price lambda >= 0)
                                      l_i <= G_i x_i <= u_i,  lo_i <= x_i <= up_i      (agent i's own polytope X_i)

=========  =================  ==========================================================
symbol     field              meaning
=========  =================  ==========================================================
x_i        columns            agent i's decisions
c_i        ``cost``           its cost per unit of each decision
A_i        ``usage``          its use of each shared resource per unit of decision
b          ``capacity``       the shared resources' capacities
G_i        ``own``            its own constraint rows, with bounds ``own_lower``, ``own_upper``
lambda     ``price``          dual of the shared rows: lambda = -d J_N / d b >= 0, per unit of resource
=========  =================  ==========================================================

"The others' shares change" when agent d joins (Falsone, Margellos, Zizzo, Prandini, Garatti, arXiv 2109.13580;
the rule below is designed for ecodec, [D]).  An LP may have many optimal allocations, so the test asks whether
*some* optimal allocation of the N agents stays optimal once d is there.  With J_{N+d} the optimum with d, solve
also, with d present, the program restricted to the optimal face of the N agents
(sum_{i<=N} c_i' x_i <= J_N + slack, one extra row)::

    J_face = min  sum_i c_i' x_i + c_d' x_d   s.t. the rows above with d, and  sum_{i<=N} c_i' x_i <= J_N + slack

J_face >= J_{N+d} always; the others' shares change iff J_face > J_{N+d} + tol (no optimal allocation of theirs
leaves room for an optimal accommodation of d).  This is tie-free: it does not depend on which optimal vertex
HiGHS returns.  The price rule, the other reading of section 6.3, compares lambda before and after instead
(it does depend on the vertex when the duals are not unique).  An agent j is a *support agent* under a rule
when its own arrival, to the program without it, is a change under that rule (remove j, re-solve, add it back).

The model has N + 1 agent slots: the N agents, then a spare slot that holds the arriving agent.  A slot is filled
by changing costs, bounds and matrix coefficients, and emptied by fixing its columns to 0 and freeing its rows,
so the program is never rebuilt and every re-solve starts from the previous basis
(:class:`~ecodec.solvers.matrix.MatrixProblem`).  All agents of one program share the shapes of x_i and G_i.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from ecodec.errors import EcodecError, SolveError
from ecodec.solvers.matrix import MatrixProblem
from ecodec.vocabulary import INFEASIBLE, OPTIMAL

_INF = float("inf")


@dataclass(frozen=True)
class AgentBlock:
    """One agent's data (see the module docstring); ``own`` is r x n, ``usage`` m x n."""

    name: str
    cost: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    own: sp.csr_array
    own_lower: np.ndarray
    own_upper: np.ndarray
    usage: sp.csr_array


@dataclass(frozen=True)
class Tolerances:
    """When a change counts: objective gap above ``objective_rel`` x max(1, |J|); face slack ``face_rel`` x
    max(1, |J_N|); a price change above ``price_abs`` + ``price_rel`` x max |lambda|."""

    objective_rel: float = 1e-7
    face_rel: float = 1e-10
    price_abs: float = 1e-7
    price_rel: float = 1e-6

    def __post_init__(self):
        for name in ("objective_rel", "face_rel", "price_abs", "price_rel"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and 0 < value < 1):
                raise EcodecError(f"tolerance {name}: got {value!r}; expected a number in (0, 1)")


@dataclass(frozen=True)
class Arrival:
    """What one agent's arrival does: objectives with it (free and on the face), the gap, the largest price
    change, and the two verdicts."""

    objective: float
    face_objective: float
    gap: float
    price_change: float
    changes_allocation: bool
    changes_price: bool


class SharingLP:
    """The program of the module docstring for ``agents`` and ``capacity``, compiled once.

    >>> one = sp.csr_array(np.ones((1, 1)))
    >>> def item(name, profit, available):  # one item, one compartment (kg): max profit s.t. weight <= 15 kg
    ...     return AgentBlock(name, np.array([-profit]), np.zeros(1), np.array([available]), sp.csr_array((0, 1)),
    ...                       np.zeros(0), np.zeros(0), one)
    >>> lp = SharingLP([item("a", 3.0, 10.0), item("b", 2.0, 10.0)], np.array([15.0]))
    >>> lp.objective, lp.price.tolist()
    (-40.0, [2.0])
    >>> lp.arrival(item("c", 2.5, 1.0)).changes_allocation, lp.arrival(item("d", 1.5, 1.0)).changes_allocation
    (True, False)
    """

    def __init__(self, agents: list[AgentBlock], capacity: np.ndarray, tolerances: Tolerances | None = None,
                 name: str = "sharing"):
        if not agents:
            raise EcodecError("a sharing program needs at least one agent; got none")
        self.agents = list(agents)
        self.capacity = np.asarray(capacity, dtype=float)
        self.tolerances = tolerances or Tolerances()
        first = agents[0]
        self._n, self._r, self._m = first.cost.size, first.own.shape[0], self.capacity.size
        for a in agents:
            self._check_shape(a)
        slots = len(agents) + 1
        n, r, m = self._n, self._r, self._m
        spare = AgentBlock("", np.zeros(n), np.zeros(n), np.zeros(n), sp.csr_array((r, n)), np.zeros(r),
                           np.zeros(r), sp.csr_array((m, n)))
        blocks = self.agents + [spare]
        own = sp.block_diag([b.own for b in blocks], format="csr") if r else sp.csr_array((0, n * slots))
        usage = sp.hstack([b.usage for b in blocks], format="csr")
        face = sp.csr_array(np.concatenate([b.cost for b in self.agents] + [np.zeros(n)])[None, :])
        matrix = sp.vstack([own, usage, face], format="csc")
        self._lp = MatrixProblem(
            np.concatenate([b.cost for b in blocks]), np.concatenate([b.lower for b in blocks]),
            np.concatenate([b.upper for b in blocks]), matrix,
            np.concatenate([b.own_lower for b in blocks] + [np.full(m, -_INF), [-_INF]]),
            np.concatenate([b.own_upper for b in blocks] + [self.capacity, [_INF]]), name=name)
        self._usage_rows = np.arange(r * slots, r * slots + m)
        self._face_row = r * slots + m
        self._spare = len(agents)
        self._held: list[AgentBlock | None] = list(self.agents) + [spare]
        solution = self._feasible("the program of the N agents")
        self.objective, self.allocation, self.price = solution

    # -- slots -------------------------------------------------------------------------------------------
    def _check_shape(self, a: AgentBlock) -> None:
        n, r, m = self._n, self._r, self._m
        if a.own.shape != (r, n) or a.usage.shape != (m, n) or not (
                a.cost.size == a.lower.size == a.upper.size == n and a.own_lower.size == a.own_upper.size == r):
            raise EcodecError(f"agent '{a.name}': got {a.cost.size} decisions, {a.own.shape[0]} own rows and "
                              f"{a.usage.shape[0]} shared rows; expected {n}, {r} and {m} like the other agents")

    def _columns(self, slot: int) -> np.ndarray:
        return np.arange(slot * self._n, (slot + 1) * self._n)

    def _rows(self, slot: int) -> np.ndarray:
        return np.arange(slot * self._r, (slot + 1) * self._r)

    def _fill(self, slot: int, agent: AgentBlock | None) -> None:
        """Put ``agent`` into ``slot`` (None empties it: columns fixed to 0, own rows free)."""
        cols, rows = self._columns(slot), self._rows(slot)
        if agent is None:
            self._lp.set_column_bounds(cols, 0.0, 0.0)
            if rows.size:
                self._lp.set_row_bounds(rows, -_INF, _INF)
            return
        self._check_shape(agent)
        held = self._held[slot]
        if held is not agent:
            for old, new, base in ((held.own, agent.own, rows[0] if rows.size else 0),
                                   (held.usage, agent.usage, self._usage_rows[0])):
                changed = sp.coo_array(new - old)
                changed.eliminate_zeros()
                if changed.nnz:
                    values = new.toarray()
                    for i, j in zip(changed.row, changed.col):
                        self._lp.set_coefficient(base + i, cols[j], values[i, j])
            self._lp.set_costs(cols, agent.cost)
            self._held[slot] = agent
        self._lp.set_column_bounds(cols, agent.lower, agent.upper)
        if rows.size:
            self._lp.set_row_bounds(rows, np.asarray(agent.own_lower, float), np.asarray(agent.own_upper, float))

    def _solve(self, what: str) -> tuple[float, np.ndarray, np.ndarray] | None:
        """(objective, x per slot, lambda), or None when the program is infeasible."""
        solution = self._lp.solve()
        if solution.status == INFEASIBLE:
            return None
        if solution.status != OPTIMAL or solution.row_dual is None:
            raise SolveError(f"{self._lp.name}: {what} ended '{solution.status}'; expected an optimal LP")
        x = solution.x.reshape(len(self._held), self._n)
        return solution.objective, x, np.maximum(-solution.row_dual[self._usage_rows], 0.0)

    def _feasible(self, what: str) -> tuple[float, np.ndarray, np.ndarray]:
        solved = self._solve(what)
        if solved is None:
            raise SolveError(f"{self._lp.name}: {what} is infeasible; expected room in the shared capacity for "
                             "every agent's own needs")
        return solved

    def _face(self, bound: float) -> None:
        self._lp.set_row_bounds([self._face_row], -_INF, bound)

    def _judge(self, reference: float, reference_price: np.ndarray) -> Arrival:
        """With the arriving agent in the spare slot and the others' optimum ``reference`` known: its verdicts.
        An agent that cannot be accommodated at all, or only if the others leave their optimal face (that face
        program is then infeasible), changes the others' shares (gap +inf)."""
        tol = self.tolerances
        solved = self._solve("the program with the arriving agent")
        if solved is None:
            return Arrival(_INF, _INF, _INF, _INF, True, True)
        objective, _, price = solved
        self._face(reference + tol.face_rel * max(1.0, abs(reference)))
        on_face = self._solve("the program on the others' optimal face")
        self._face(_INF)
        face_objective = _INF if on_face is None else on_face[0]
        gap = face_objective - objective
        change = float(np.max(np.abs(price - reference_price), initial=0.0))
        scale = float(np.max(np.abs(np.concatenate([price, reference_price])), initial=0.0))
        return Arrival(objective, face_objective, gap, change, gap > tol.objective_rel * max(1.0, abs(objective)),
                       change > tol.price_abs + tol.price_rel * scale)

    # -- questions ---------------------------------------------------------------------------------------
    def arrival(self, agent: AgentBlock) -> Arrival:
        """What the arrival of ``agent`` to the N agents does (module docstring)."""
        self._fill(self._spare, agent)
        try:
            return self._judge(self.objective, self.price)
        finally:
            self._fill(self._spare, None)

    def leave_one_out(self, j: int) -> Arrival:
        """Agent j removed, then arriving again: is it a support agent (``changes_allocation``, the allocation
        rule; ``changes_price``, the price rule)?"""
        agent = self.agents[j]
        self._fill(j, None)
        try:
            reduced, _, reduced_price = self._feasible(f"the program without agent '{agent.name}'")
            self._fill(self._spare, agent)
            return self._judge(reduced, reduced_price)
        finally:
            self._fill(self._spare, None)
            self._fill(j, agent)

    def shares(self) -> dict[str, np.ndarray]:
        """Each agent's optimal decisions x_i (the vertex HiGHS returned)."""
        return {a.name: self.allocation[i].copy() for i, a in enumerate(self.agents)}

"""The local QPs of the distributed methods solved by PIQP's interior-point method, HiGHS's active-set QP solver
behind it.

A :class:`~ecodec.solvers.matrix.MatrixProblem` given a quadratic term (``set_hessian(Q, solver="piqp")``, the
default) keeps a copy of its data here and solves

    min  c' x + (1/2) x' Q x + c0   s.t.   A_eq x = b  (rows with equal bounds),
                                         h_l <= G x <= h_u  (the other rows with a finite bound),
                                         col_lower <= x <= col_upper

with PIQP (Schwan, Jiang, Kuhn, Jones, "PIQP: A Proximal Interior-Point Quadratic Programming Solver", IEEE CDC
2023; BSD 2-clause), set up afresh at every solve: a solve is a function of the data alone, so a checkpointed run
resumes bit for bit and the iterates do not depend on where an agent runs.  A solve that does not end 'solved'
(infeasible, iteration limit, numerical trouble) goes on to HiGHS's active-set QP solver (also the solver of
``solver="highs"``), which has the last word on infeasibility.

HiGHS's QP solver regularizes Q by adding rI: ecodec asks for r = 1e-12 (HiGHS's default 1e-7 moves a minimiser by
about r relative) and caps its iterations.  Measured on the relaxed mixed-integer microturbine, that solver
sometimes ends in an error at a small r and loops without end at r = 1e-7; a QP that does not end optimal is
therefore solved again from scratch with r = 1e-10, 1e-9, then 1e-8, and r returns to 1e-12.  A QP that still
ends in an error is solved once more with the primal feasibility tolerance raised from 1e-7 to 1e-4: measured on
a building's proximal step of the district-cooling case, the QP solver "claims optimality" with a row violated by
1.7e-5 kW and HiGHS then reports an error; the solution is accepted at that tolerance (rows in kW and kWh: far
below what a schedule can tell apart) and the tolerance returns to 1e-7.

Why not HiGHS alone.  HiGHS's QP solver is an active-set method: a solve takes about as many iterations as the
optimum has columns between their bounds, each iteration working on the free columns' reduced Hessian, and it
keeps a workspace of about 200 KB per instance.  Measured on the 100-vehicle LP fleet's Tracking-ADMM steps
(73 columns, 25 rows; iteration 3): 1.08 ms and 65 iterations per QP, against 0.21 ms and 9 iterations with
PIQP set up afresh (objectives equal to 5e-9 relative; Clarabel 0.49 ms).  In a run of 10,000 vehicles the
active-set solves cost twice as much per QP as at 100 vehicles (each QP touches its own cold workspace), the
same QPs taken out and solved alone do not (1.04 ms), and PIQP keeps nothing between solves.

Accuracy.  An interior-point solution is not a vertex: rows hold to PIQP's tolerance (``eps_abs`` 1e-9 here, its
default 1e-8), and where a bound is active with a zero multiplier (a degenerate optimum) the point approaches the
bound only as the square root of the duality gap: min 0.3 p + 0.0375 (p - 4)^2 over [0, 10], whose minimiser is
p = 0, ends at p = 2.3e-4 with PIQP's default gap tolerance and at 1.9e-6 with 1e-12.  ecodec asks for a gap of
1e-12: on the 100 fleet QPs above the largest difference to HiGHS's minimiser fell from 1.1e-4 to 4.3e-8 of the
largest |x|, at 10 instead of 9 iterations (0.33 -> 0.37 ms).

Duals in HiGHS's convention (:class:`~ecodec.solvers.matrix.MatrixProblem`): with PIQP's Lagrangian
f + y'(A_eq x - b) + z_u'(G x - h_u) - z_l'(G x - h_l), the derivative of the optimum with respect to b is -y
and with respect to the active bound of a G row z_l - z_u.
"""

from __future__ import annotations

import highspy
import numpy as np
import piqp
import scipy.sparse as sp

from ecodec.vocabulary import ERROR, INFEASIBLE, OPTIMAL, UNBOUNDED

#: The solvers a QP of a :class:`~ecodec.solvers.matrix.MatrixProblem` can be given (module docstring)
QP_SOLVERS = ("piqp", "highs")
#: PIQP's absolute tolerance on the residuals (its default 1e-8)
EPS_ABS = 1e-9
#: PIQP's absolute and relative duality-gap tolerance (its default 1e-8 and 1e-9; module docstring)
EPS_DUALITY_GAP = 1e-12
#: |value| at or above this is no bound (HiGHS's infinity is 1e30 or inf)
_INFINITY = 1e30
_STATUS = {piqp.PIQP_SOLVED: OPTIMAL, piqp.PIQP_PRIMAL_INFEASIBLE: INFEASIBLE, piqp.PIQP_DUAL_INFEASIBLE: UNBOUNDED}


def _bounds(values) -> np.ndarray:
    values = np.array(values, dtype=float)
    values[values >= _INFINITY] = np.inf
    values[values <= -_INFINITY] = -np.inf
    return values


class InteriorPointQP:
    """A QP's data (costs, bounds, rows, Hessian) kept beside its HiGHS instance and solved by PIQP.

    >>> import highspy, numpy as np, scipy.sparse as sp
    >>> lp = highspy.HighsLp()  # min x1^2 + x2^2 + x1 x2 - x1  s.t.  x1 + x2 = 1,  x1 - x2 <= 0.2,  0 <= x <= 5
    >>> lp.num_col_, lp.num_row_, lp.col_cost_, lp.col_lower_, lp.col_upper_ = 2, 2, [-1.0, 0.0], [0, 0], [5, 5]
    >>> lp.row_lower_, lp.row_upper_ = [1.0, -np.inf], [1.0, 0.2]
    >>> lp.a_matrix_.start_, lp.a_matrix_.index_, lp.a_matrix_.value_ = [0, 2, 4], [0, 1, 0, 1], [1, 1, 1, -1]
    >>> qp = InteriorPointQP(lp, sp.csc_array([[2.0, 0.0], [1.0, 2.0]]))  # Q's lower triangle
    >>> status, x, objective, duals = qp.solve()
    >>> status, np.round(x, 6).tolist(), round(objective, 6), np.round(duals, 6).tolist()
    ('optimal', [0.6, 0.4], 0.16, [1.0, -0.4])
    """

    def __init__(self, lp, hessian: sp.sparray):
        self.load(lp)
        self.set_hessian(hessian)

    def load(self, lp) -> None:
        """Read the costs, bounds and rows of a ``highspy.HighsLp`` (after a change of shape)."""
        n, m = int(lp.num_col_), int(lp.num_row_)
        self.cost = np.array(lp.col_cost_, dtype=float)
        self.col_lower, self.col_upper = _bounds(lp.col_lower_), _bounds(lp.col_upper_)
        self.row_lower, self.row_upper = _bounds(lp.row_lower_), _bounds(lp.row_upper_)
        self.offset = float(lp.offset_)
        a = lp.a_matrix_
        compressed = sp.csr_matrix if a.format_ == highspy.MatrixFormat.kRowwise else sp.csc_matrix
        self.matrix = compressed((np.array(a.value_, dtype=float), np.array(a.index_), np.array(a.start_)),
                                 shape=(m, n))
        if hasattr(self, "lower"):  # columns appended after the Hessian was set: no quadratic term on them
            self.lower.resize((n, n))
            self.set_hessian(self.lower)
        self._rows_key: bytes | None = None
        self._rows_changed = True

    def set_hessian(self, lower: sp.sparray) -> None:
        """Q from its lower triangle L (what HiGHS is given); PIQP reads the upper triangle L', and the objective
        is evaluated as x'Qx = 2 x'Lx - sum_j L_jj x_j^2."""
        self.lower = sp.csc_matrix(lower)
        self.upper = self.lower.T.tocsc()
        self.diagonal = self.lower.diagonal()

    def set_costs(self, columns, cost) -> None:
        self.cost[columns] = cost

    def set_column_bounds(self, columns, lower, upper) -> None:
        self.col_lower[columns], self.col_upper[columns] = _bounds(lower), _bounds(upper)

    def set_row_bounds(self, rows, lower, upper) -> None:
        self.row_lower[rows], self.row_upper[rows] = _bounds(lower), _bounds(upper)
        self._rows_changed = True

    def set_offset(self, offset: float) -> None:
        self.offset = float(offset)

    def _split(self) -> None:
        """A_eq and G from the rows' bounds; rebuilt only when which rows are equalities (or free) changes."""
        if not self._rows_changed:
            return
        self._rows_changed = False
        equality = self.row_lower == self.row_upper
        ranged = ~equality & (np.isfinite(self.row_lower) | np.isfinite(self.row_upper))
        key = np.packbits(np.concatenate([equality, ranged])).tobytes()
        if key == self._rows_key:
            return
        self._rows_key, self._equality, self._ranged = key, np.flatnonzero(equality), np.flatnonzero(ranged)
        rows = self.matrix.tocsr()
        self._a_eq, self._g = rows[self._equality].tocsc(), rows[self._ranged].tocsc()

    def solve(self) -> tuple[str, np.ndarray | None, float | None, np.ndarray | None]:
        """(status, x, objective, row duals in HiGHS's convention); x, objective and duals only when optimal."""
        self._split()
        solver = piqp.SparseSolver()
        solver.settings.verbose = False
        solver.settings.eps_abs = EPS_ABS
        solver.settings.eps_duality_gap_abs = solver.settings.eps_duality_gap_rel = EPS_DUALITY_GAP
        solver.setup(self.upper, self.cost, self._a_eq, self.row_lower[self._equality], self._g,
                     self.row_lower[self._ranged], self.row_upper[self._ranged], self.col_lower, self.col_upper)
        status = _STATUS.get(solver.solve(), ERROR)
        if status != OPTIMAL:
            return status, None, None, None
        result = solver.result
        x = np.array(result.x)
        duals = np.zeros(self.row_lower.size)
        duals[self._equality] = -np.asarray(result.y)
        duals[self._ranged] = np.asarray(result.z_l) - np.asarray(result.z_u)
        objective = float(self.cost @ x + x @ (self.lower @ x) - 0.5 * self.diagonal @ (x * x) + self.offset)
        return status, x, objective, duals


__all__ = ["EPS_ABS", "EPS_DUALITY_GAP", "QP_SOLVERS", "InteriorPointQP"]

"""A linear or mixed-integer program in matrix form on a persistent HiGHS instance, re-solved many times.

    min  c' x + (1/2) x' Q x + c0   s.t.   row_lower <= A x <= row_upper,   col_lower <= x <= col_upper,
                                         x_j integer (j in I)

Q is empty (an LP or MILP) unless a driver sets a convex quadratic term with :meth:`MatrixProblem.set_hessian`
(a QP; HiGHS solves no mixed-integer QP, so Q and integer columns exclude each other: relax or fix the integers
first).  A QP is solved by PIQP's interior-point method, then, if that does not end optimal or with
``solver="highs"``, by HiGHS's active-set QP solver with the retries :mod:`ecodec.solvers.interior_qp` describes.

The HiGHS instance is created once; between solves only costs, bounds, right-hand sides and integrality change
(and columns or rows may be appended), so an LP re-solve starts from the previous optimal basis (a warm start)
instead of from scratch.  Every distributed driver solves its agents' subproblems, and its own small master
problems, through this one class.

Each solve starts from the previous basis *alone*: the solver's other working data (factorization, pricing
weights, cost perturbations) is cleared first (``clearSolver``, then ``setBasis``).  A solve is then a function of
the model's data and its starting basis, which :meth:`MatrixProblem.snapshot` saves and
:meth:`MatrixProblem.restore` puts back into a new instance: that is what lets a checkpointed run resume bit for
bit (:mod:`ecodec.decomposition.state`).  With HiGHS's full hot start instead, a new instance given the same
basis was measured to reach other (equally optimal) vertices and duals within a few iterations of primal
decomposition on the shipped microgrid, after which the runs part.  Cost measured there: 3-6% of the iteration
time (300 iterations: 2.59 -> 2.68 s and 2.71 -> 2.78 s; 2000 iterations: 73.5 -> 77.6 s); Tracking-ADMM's QPs
and DualBi's MILPs gave the same iterates with and without the clearing.

Every instance runs HiGHS on one thread (``threads = 1``): subproblems are small and each stands for one agent's
own computer; with the default (``threads = 0``) a 49-column vehicle LP re-solved after a cost change took 173
us per run (the processor topology queried, a pool of threads woken), with one thread 43 us (HiGHS 1.16).
HiGHS's thread scheduler is shared by the whole process, and a run asking for one thread fails while another
HiGHS instance (the centralized solve, or a user's own) has started it with more; that run restarts the
scheduler on one thread and runs again.  A run with the default threads option accepts a scheduler of any size
(the centralized solve's does); a user's own HiGHS run in the same process that sets ``threads`` itself calls
``highspy.Highs.resetGlobalScheduler(True)`` first.

Mixed-integer subproblems run without HiGHS's feasibility-jump heuristic.  On an agent's small MILP (an on/off
vehicle: 24 binaries, 25 rows) it took 43% of each solve (perf), and branch and bound finds the optimum at once
anyway.  Measured with it off: adaptive tightening on the 100-vehicle fleet runs its iterations 2.3 times faster,
first feasible iterate at 139 instead of 133 and a certified gap after 800 iterations of 9.38% instead of 9.44%;
DualBi on the budget fleet and mixed-integer primal decomposition on the microgrid give the same iterates.

Dual values follow HiGHS's convention for minimisation: ``row_dual[k]`` is the derivative of the optimal cost
with respect to the active bound of row k (positive on an active lower bound, negative on an active upper
bound).  They exist for LPs and QPs.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import highspy
import numpy as np
import scipy.sparse as sp

from ecodec.solvers.highs import silent_highs
from ecodec.solvers.interior_qp import QP_SOLVERS, InteriorPointQP
from ecodec.versions import highs_version
from ecodec.vocabulary import ERROR, INFEASIBLE, INFEASIBLE_OR_UNBOUNDED, OPTIMAL, TIME_LIMIT, UNBOUNDED

log = logging.getLogger(__name__)
_INF = highspy.kHighsInf
#: HiGHS's QP solver adds this multiple of the identity to Q; tried in order until a solve ends optimal
_QP_REGULARIZATION = (1e-12, 1e-10, 1e-9, 1e-8)
_QP_ITERATION_LIMIT = 1_000_000
#: The primal feasibility tolerance of the last retry of a QP that ends in an error (module docstring)
_QP_FEASIBILITY_RETRY = 1e-4
_STATUS = {
    highspy.HighsModelStatus.kOptimal: OPTIMAL,
    highspy.HighsModelStatus.kInfeasible: INFEASIBLE,
    highspy.HighsModelStatus.kUnbounded: UNBOUNDED,
    highspy.HighsModelStatus.kUnboundedOrInfeasible: INFEASIBLE_OR_UNBOUNDED,
    highspy.HighsModelStatus.kTimeLimit: TIME_LIMIT,
    highspy.HighsModelStatus.kIterationLimit: TIME_LIMIT,
    highspy.HighsModelStatus.kSolutionLimit: TIME_LIMIT,  # mip_max_nodes reached (a work limit, like the others)
}


@dataclass
class MatrixSolution:
    """One solve: status, primal values of every column, objective, (LPs only) row duals, and a proven lower
    bound on the optimum (the MIP dual bound of a mixed-integer solve, the objective of an LP)."""

    status: str
    x: np.ndarray | None
    objective: float | None
    row_dual: np.ndarray | None
    solve_time_s: float
    bound: float | None = None

    @property
    def has_solution(self) -> bool:
        return self.x is not None


def _statuses(statuses) -> np.ndarray:
    """HiGHS basis statuses as small integers (HighsBasisStatus values)."""
    return np.fromiter((int(s) for s in statuses), dtype=np.int8, count=len(statuses))


def _finite(values) -> np.ndarray:
    """numpy infinities as HiGHS's infinity."""
    return np.clip(np.asarray(values, dtype=float), -_INF, _INF)


class MatrixProblem:
    """A persistent HiGHS model built from matrices; see the module docstring."""

    def __init__(self, cost, col_lower, col_upper, matrix: sp.sparray | None = None, row_lower=(), row_upper=(),
                 *, integer=None, offset: float = 0.0, name: str = "problem", mip_rel_gap: float = 1e-6,
                 time_limit_s: float | None = None, node_limit: int | None = None):
        self.name = name
        cost = np.asarray(cost, dtype=float)
        n = cost.size
        self._integer = np.zeros(n, dtype=bool) if integer is None else np.asarray(integer, dtype=bool).copy()
        self._has_integers = bool(self._integer.any())  # read at every solve; columns appended later are continuous
        self._relaxed = False
        self._h = silent_highs()
        self._h.setOptionValue("threads", 1)  # see the module docstring
        self._h.setOptionValue("mip_heuristic_run_feasibility_jump", False)  # see the module docstring
        self._h.setOptionValue("mip_rel_gap", float(mip_rel_gap))
        if time_limit_s is not None:
            self._h.setOptionValue("time_limit", float(time_limit_s))
        if node_limit is not None:  # a deterministic work limit for a mixed-integer solve
            self._h.setOptionValue("mip_max_nodes", int(node_limit))
        lp = highspy.HighsLp()
        lp.num_col_ = n
        lp.col_cost_ = cost
        lp.col_lower_ = _finite(col_lower)
        lp.col_upper_ = _finite(col_upper)
        lp.offset_ = float(offset)
        a = sp.csc_array((0, n)) if matrix is None else sp.csc_array(matrix)
        lp.num_row_ = a.shape[0]
        lp.row_lower_ = _finite(row_lower)
        lp.row_upper_ = _finite(row_upper)
        lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        lp.a_matrix_.start_ = a.indptr.astype(np.int32)
        lp.a_matrix_.index_ = a.indices.astype(np.int32)
        lp.a_matrix_.value_ = a.data.astype(float)
        lp.a_matrix_.num_col_ = n
        lp.a_matrix_.num_row_ = a.shape[0]
        if self._integer.any():
            lp.integrality_ = [highspy.HighsVarType.kInteger if i else highspy.HighsVarType.kContinuous
                               for i in self._integer]
        self._check(self._h.passModel(lp), "load the model")
        self._n_cols, self._n_rows = n, a.shape[0]
        self._quadratic = False
        self._interior: InteriorPointQP | None = None  # the QP's copy for PIQP (set_hessian)
        #: (what, status) of every HiGHS run of the last :meth:`solve` (its retries included), in order
        self.attempts: list[tuple[str, str]] = []

    # -- shape -------------------------------------------------------------------------------------------
    @property
    def n_cols(self) -> int:
        return self._n_cols

    @property
    def n_rows(self) -> int:
        return self._n_rows

    @property
    def is_mixed_integer(self) -> bool:
        return self._has_integers and not self._relaxed

    @property
    def is_quadratic(self) -> bool:
        return self._quadratic

    # -- changes -----------------------------------------------------------------------------------------
    def add_columns(self, cost, lower, upper) -> np.ndarray:
        """Append continuous columns (no matrix entries yet); returns their indices."""
        cost = np.atleast_1d(np.asarray(cost, dtype=float))
        k = cost.size
        self._check(self._h.addCols(k, cost, _finite(np.broadcast_to(lower, k)), _finite(np.broadcast_to(upper, k)),
                                    0, np.zeros(0, np.int32), np.zeros(0, np.int32), np.zeros(0)), "add columns")
        self._integer = np.concatenate([self._integer, np.zeros(k, dtype=bool)])
        self._n_cols += k
        self._mirror("load", self._h.getLp())
        return np.arange(self._n_cols - k, self._n_cols)

    def add_rows(self, matrix: sp.sparray, lower, upper) -> np.ndarray:
        """Append rows ``lower <= matrix x <= upper`` (matrix over all current columns); returns their indices."""
        a = sp.csr_array(matrix)
        if a.shape[1] != self._n_cols:
            raise ValueError(f"{self.name}: rows have {a.shape[1]} columns, the problem has {self._n_cols}")
        k = a.shape[0]
        self._check(self._h.addRows(k, _finite(lower), _finite(upper), a.nnz, a.indptr[:-1].astype(np.int32),
                                    a.indices.astype(np.int32), a.data.astype(float)), "add rows")
        self._n_rows += k
        self._mirror("load", self._h.getLp())
        return np.arange(self._n_rows - k, self._n_rows)

    def set_costs(self, columns, cost) -> None:
        columns = np.asarray(columns, dtype=np.int32)
        self._check(self._h.changeColsCost(columns.size, columns, np.asarray(cost, dtype=float)), "change costs")
        self._mirror("set_costs", columns, cost)

    def set_offset(self, offset: float) -> None:
        self._check(self._h.changeObjectiveOffset(float(offset)), "change the objective offset")
        self._mirror("set_offset", offset)

    def set_column_bounds(self, columns, lower, upper) -> None:
        columns = np.asarray(columns, dtype=np.int32)
        self._check(self._h.changeColsBounds(columns.size, columns, _finite(np.broadcast_to(lower, columns.size)),
                                             _finite(np.broadcast_to(upper, columns.size))), "change column bounds")
        self._mirror("set_column_bounds", columns, lower, upper)

    def set_coefficient(self, row: int, column: int, value: float) -> None:
        """Change one matrix coefficient in place (HiGHS keeps the basis for the next solve)."""
        self._check(self._h.changeCoeff(int(row), int(column), float(value)), "change a coefficient")
        self._mirror("load", self._h.getLp())

    def set_row_bounds(self, rows, lower, upper) -> None:
        rows = np.asarray(rows, dtype=np.int32)
        if not (isinstance(lower, np.ndarray) and isinstance(upper, np.ndarray) and lower.size == upper.size
                == rows.size):
            lower, upper = np.broadcast_to(lower, rows.size), np.broadcast_to(upper, rows.size)
        self._check(self._h.changeRowsBounds(rows.size, rows, _finite(lower), _finite(upper)), "change row bounds")
        self._mirror("set_row_bounds", rows, lower, upper)

    def _mirror(self, change: str, *values) -> None:
        """Make the same change to the QP's copy for PIQP, if there is one."""
        if self._interior is not None:
            getattr(self._interior, change)(*values)

    def set_hessian(self, hessian: sp.sparray, solver: str = "piqp") -> None:
        """Set Q of the cost term (1/2) x' Q x: a symmetric positive semidefinite matrix over all current columns
        (only its lower triangle is read), solved by ``solver``: 'piqp' (then HiGHS if PIQP does not end optimal)
        or 'highs' (module docstring).  Between solves, change Q again or only the linear costs: the model is not
        rebuilt."""
        if solver not in QP_SOLVERS:
            raise ValueError(f"{self.name}: QP solver {solver!r}; expected one of {', '.join(QP_SOLVERS)}")
        self._h.setOptionValue("qp_regularization_value", _QP_REGULARIZATION[0])
        self._h.setOptionValue("qp_iteration_limit", _QP_ITERATION_LIMIT)
        q = sp.csc_array(sp.tril(sp.csc_array(hessian)))
        if q.shape != (self._n_cols, self._n_cols):
            raise ValueError(f"{self.name}: the Hessian is {q.shape[0]} x {q.shape[1]}, the problem has "
                             f"{self._n_cols} columns")
        if self.is_mixed_integer:
            raise ValueError(f"{self.name}: HiGHS solves no mixed-integer QP; relax or fix the integers first")
        q.sum_duplicates()
        self._check(self._h.passHessian(self._n_cols, q.nnz, highspy.HessianFormat.kTriangular,
                                        q.indptr.astype(np.int32), q.indices.astype(np.int32),
                                        q.data.astype(float)), "set the Hessian")
        self._quadratic = q.nnz > 0
        self._interior = InteriorPointQP(self._h.getLp(), q) if self._quadratic and solver == "piqp" else None

    def relax_integrality(self, relaxed: bool = True) -> None:
        """Solve the LP relaxation (``relaxed=True``) or the mixed-integer program again."""
        if relaxed == self._relaxed or not self._has_integers:
            self._relaxed = relaxed
            return
        if not relaxed and self._quadratic:
            raise ValueError(f"{self.name}: HiGHS solves no mixed-integer QP; remove the Hessian first")
        columns = np.flatnonzero(self._integer).astype(np.int32)
        kind = highspy.HighsVarType.kContinuous if relaxed else highspy.HighsVarType.kInteger
        self._check(self._h.changeColsIntegrality(columns.size, columns, np.array([kind] * columns.size)),
                    "change integrality")
        self._relaxed = relaxed

    # -- state -------------------------------------------------------------------------------------------
    def snapshot(self) -> dict[str, object]:
        """What the next solve depends on besides the matrix (module docstring): costs, offset, column and row
        bounds, whether the integers are relaxed, and the basis the next solve starts from."""
        lp, basis = self._h.getLp(), self._h.getBasis()
        return {"col_cost": np.array(lp.col_cost_, dtype=float), "col_lower": np.array(lp.col_lower_, dtype=float),
                "col_upper": np.array(lp.col_upper_, dtype=float), "row_lower": np.array(lp.row_lower_, dtype=float),
                "row_upper": np.array(lp.row_upper_, dtype=float), "offset": float(lp.offset_),
                "relaxed": self._relaxed, "basis_valid": bool(basis.valid),
                "col_status": _statuses(basis.col_status), "row_status": _statuses(basis.row_status)}

    def restore(self, saved: dict[str, object]) -> None:
        """Put a :meth:`snapshot` back into this instance, which must have the same columns and rows (a driver
        re-creates what it appended after set-up before restoring)."""
        n, m = len(saved["col_cost"]), len(saved["row_lower"])
        if (n, m) != (self._n_cols, self._n_rows):
            raise ValueError(f"{self.name}: the saved program has {n} columns and {m} rows, this one "
                             f"{self._n_cols} and {self._n_rows}")
        self.set_costs(np.arange(n), saved["col_cost"])
        self.set_column_bounds(np.arange(n), saved["col_lower"], saved["col_upper"])
        if m:
            self.set_row_bounds(np.arange(m), np.asarray(saved["row_lower"]), np.asarray(saved["row_upper"]))
        self.set_offset(float(saved["offset"]))
        self.relax_integrality(bool(saved["relaxed"]))
        self._h.clearSolver()
        if saved["basis_valid"]:
            basis = highspy.HighsBasis()
            basis.col_status = [highspy.HighsBasisStatus(int(s)) for s in saved["col_status"]]
            basis.row_status = [highspy.HighsBasisStatus(int(s)) for s in saved["row_status"]]
            self._check(self._h.setBasis(basis), "restore the basis")

    # -- solve -------------------------------------------------------------------------------------------
    def solve(self, start=None) -> MatrixSolution:
        """Solve from the previous basis (module docstring).  A solve that ends in a HiGHS error is solved again
        once from scratch (measured: a battery LP re-solved 10000 times with changing costs once ended in an
        error); a QP that does not end optimal is retried from scratch with a larger regularization (module
        docstring).  ``start``: a point (all columns) a mixed-integer solve takes as its first incumbent."""
        started = time.perf_counter()
        self.attempts = []
        if self._interior is not None:  # a QP given to PIQP
            status, x, objective, duals = self._interior.solve()
            self.attempts.append(("PIQP", status))
            if status == OPTIMAL:
                return MatrixSolution(status, x, objective, duals, time.perf_counter() - started, objective)
            log.debug("%s: PIQP ended '%s'; solved by HiGHS's QP solver", self.name, status)
        basis = self._h.getBasis()
        self._h.clearSolver()
        if basis.valid:
            self._h.setBasis(basis)
        if start is not None and self.is_mixed_integer:  # HiGHS ignores an infeasible one
            self._h.setSolution(self._n_cols, np.arange(self._n_cols, dtype=np.int32), np.asarray(start, float))
        solution = self._run(started, "warm start" if basis.valid else "no basis")
        if solution.status == ERROR and not self._quadratic:
            log.debug("%s: HiGHS ended in an error; solved again from scratch", self.name)
            self._h.clearSolver()
            solution = self._run(started, "from scratch")
        if self._quadratic and solution.status != OPTIMAL:
            for value in _QP_REGULARIZATION[1:]:
                log.debug("%s: QP ended '%s'; retried with regularization %g", self.name, solution.status, value)
                self._h.setOptionValue("qp_regularization_value", value)
                self._h.clearSolver()
                solution = self._run(started, f"QP regularization {value:g}")
                if solution.status == OPTIMAL:
                    break
            self._h.setOptionValue("qp_regularization_value", _QP_REGULARIZATION[0])
            if solution.status == ERROR:
                log.debug("%s: QP error; retried at feasibility tolerance %g", self.name, _QP_FEASIBILITY_RETRY)
                self._h.setOptionValue("primal_feasibility_tolerance", _QP_FEASIBILITY_RETRY)
                self._h.clearSolver()
                solution = self._run(started, f"QP feasibility tolerance {_QP_FEASIBILITY_RETRY:g}")
                self._h.setOptionValue("primal_feasibility_tolerance", 1e-7)
        return solution

    def forget_basis(self) -> None:
        """Drop the basis the next :meth:`solve` would start from: it then starts from scratch (a cold start)."""
        self._h.clearSolver()

    def solve_with(self, **options) -> MatrixSolution:
        """One :meth:`solve` from scratch with HiGHS options set for it alone (``solver="ipm"``: interior point)."""
        saved = {key: self._h.getOptionValue(key)[1] for key in options}
        try:
            for key, value in options.items():
                self._h.setOptionValue(key, value)
            self.forget_basis()
            return self.solve()
        finally:
            for key, value in saved.items():
                self._h.setOptionValue(key, value)

    def data_ranges(self) -> dict[str, tuple[float, float]]:
        """(smallest, largest) nonzero |cost|, |finite bound|, |matrix entry| and (a QP) |Hessian entry|, or (0, 0)."""
        model = self._h.getModel()
        lp = model.lp_
        bounds = np.concatenate([lp.col_lower_, lp.col_upper_, lp.row_lower_, lp.row_upper_])
        parts = {"cost": lp.col_cost_, "bound": bounds[np.abs(bounds) < _INF], "matrix": lp.a_matrix_.value_}
        if self._quadratic:
            parts["hessian"] = model.hessian_.value_
        magnitudes = {what: np.abs(np.asarray(values, dtype=float)) for what, values in parts.items()}
        return {what: (float(v[v > 0].min()), float(v.max())) if np.any(v > 0) else (0.0, 0.0)
                for what, v in magnitudes.items()}

    def _run(self, started: float, attempt: str = "solve") -> MatrixSolution:
        if (self._h.run() == highspy.HighsStatus.kError
                and self._h.getModelStatus() == highspy.HighsModelStatus.kNotset):
            # the process-wide scheduler runs on more threads than this instance asks for (module docstring)
            log.debug("%s: HiGHS's thread scheduler restarted on one thread", self.name)
            highspy.Highs.resetGlobalScheduler(True)
            self._h.run()
        elapsed = time.perf_counter() - started
        status = _STATUS.get(self._h.getModelStatus(), ERROR)
        self.attempts.append((attempt, status))
        mixed_integer = self.is_mixed_integer
        has_solution = status == OPTIMAL or (status == TIME_LIMIT and self._h.getInfo().primal_solution_status == 2)
        if not has_solution:
            return MatrixSolution(status, None, None, None, elapsed)
        solution = self._h.getSolution()
        duals = np.asarray(solution.row_dual, dtype=float) if (
            status == OPTIMAL and not mixed_integer and solution.dual_valid) else None
        objective = float(self._h.getObjectiveValue())
        bound = float(self._h.getInfoValue("mip_dual_bound")[1]) if mixed_integer else objective
        return MatrixSolution(status, np.asarray(solution.col_value, dtype=float), objective, duals, elapsed,
                              min(bound, objective))

    def _check(self, status, what: str) -> None:
        if status == highspy.HighsStatus.kError:
            raise RuntimeError(f"HiGHS {highs_version()} could not {what} of '{self.name}'")

"""Ipopt through cyipopt for any Pyomo NLP: ecodec's own bridge from a Pyomo model to Ipopt's callbacks.

Pyomo's own cyipopt interface needs PyNumero's ASL library, which neither PyPI nor Debian provides, so ecodec
extracts the NLP itself (:class:`PyomoNLP`, once per model):

    min  sigma f(x)   s.t.   g_L <= g(x) <= g_U,   x_L <= x <= x_U

x the unfixed variables of the active objective and constraints (in the order first met), x_L / x_U their
bounds (+-inf where absent), g the active constraints' bodies with their bounds (an equality has g_L = g_U),
sigma = +1 to minimise and -1 to maximise.  Derivatives are exact: Pyomo's symbolic reverse mode
(``differentiate(..., mode=reverse_symbolic)``) gives each first derivative as an expression, differentiated
once more for the Hessian.  The sparsity structure is fixed at extraction (the variables each expression uses);
derivatives that are constants (every linear part) are evaluated once.  The callbacks evaluate compiled Python
functions (:mod:`ecodec.solvers.expression_code`), not Pyomo trees.  Parameters take their value at extraction.

    objective      sigma f(x)                       gradient    sigma grad f(x)
    constraints    g(x)                             jacobian    dg_k / dx_j at the fixed (k, j) structure
    hessian        sigma_f sigma grad^2 f(x) + sum_k lambda_k grad^2 g_k(x), lower triangle

``hessian = "limited-memory"`` lets Ipopt approximate the Hessian (L-BFGS) instead.  The solution is loaded into
the model (and the multipliers into its ``dual`` suffix when it has one that imports) and the objective reported
is its value there (Ipopt relaxes bounds and constraint sides by 1e-8 relative by default, so a point can exceed
an active side by that much).  Multipliers are returned per
constraint as d (objective) / d (bound): Ipopt's lambda_k belongs to L = sigma f + lambda' g, so the derivative
of the optimal objective with respect to the active bound of row k is -sigma lambda_k (the convention of
:mod:`ecodec.solvers.highs`: a positive price means one more unit of the bound costs that much more).

Ipopt's statuses map to ecodec's: solved (or solved to an acceptable level) -> optimal, infeasible problem
detected -> infeasible, diverging iterates -> unbounded, iteration or time limit -> time_limit, anything else
-> error, with Ipopt's own message kept.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import cyipopt
import numpy as np
import pyomo.environ as pyo
from pyomo.core.expr.visitor import identify_variables

from ecodec.errors import ProblemError, SolveError
from ecodec.solvers.expression_code import compile_vector, symbolic_gradient
from ecodec.solvers.highs import SolverOutcome
from ecodec.vocabulary import ERROR, INFEASIBLE, OPTIMAL, TIME_LIMIT, UNBOUNDED

log = logging.getLogger(__name__)

HESSIANS = ("exact", "limited-memory")
_STATUS = {0: OPTIMAL, 1: OPTIMAL, 2: INFEASIBLE, 4: UNBOUNDED, -1: TIME_LIMIT, -4: TIME_LIMIT}


def ipopt_version() -> str:
    return ".".join(str(v) for v in cyipopt.IPOPT_VERSION)


@dataclass
class _Derivatives:
    """Sparse first or second derivatives: coordinates and one compiled function of their values."""

    rows: np.ndarray
    cols: np.ndarray
    values: object  # x -> np.ndarray

    @property
    def nnz(self) -> int:
        return self.rows.size


@dataclass
class PyomoNLP:
    """The NLP of a Pyomo model in Ipopt's form (see the module docstring)."""

    model: pyo.ConcreteModel
    hessian: str = "exact"
    variables: list = field(init=False)
    constraints: list = field(init=False)

    def __post_init__(self):
        if self.hessian not in HESSIANS:
            raise ProblemError(f"hessian must be one of {', '.join(HESSIANS)}, got {self.hessian!r}")
        objectives = list(self.model.component_data_objects(pyo.Objective, active=True))
        if len(objectives) != 1:
            raise ProblemError(f"model '{self.model.name}' has {len(objectives)} active objectives; Ipopt needs one")
        objective = objectives[0]
        self.sense = 1.0 if objective.sense == pyo.minimize else -1.0
        self.constraints = [c for c in self.model.component_data_objects(pyo.Constraint, active=True)]
        variables, seen = [], set()
        for expr in [objective.expr] + [c.body for c in self.constraints]:
            for v in identify_variables(expr, include_fixed=False):
                if id(v) not in seen:
                    seen.add(id(v))
                    variables.append(v)
        integers = [v.name for v in variables if v.is_integer() or v.is_binary()]
        if integers:
            raise ProblemError(f"Ipopt solves continuous problems; model '{self.model.name}' has integer variables "
                               f"({', '.join(integers[:5])}{', ...' if len(integers) > 5 else ''})")
        self.variables = variables
        index = {id(v): j for j, v in enumerate(variables)}
        self.index = index
        self.n, self.m = len(variables), len(self.constraints)
        self.x_lower = np.array([-np.inf if v.lb is None else float(v.lb) for v in variables])
        self.x_upper = np.array([np.inf if v.ub is None else float(v.ub) for v in variables])
        self.g_lower = np.array([-np.inf if c.lower is None else float(pyo.value(c.lower)) for c in self.constraints])
        self.g_upper = np.array([np.inf if c.upper is None else float(pyo.value(c.upper)) for c in self.constraints])
        self._objective = compile_vector([self.sense * objective.expr], index, "objective")
        self._constraints = compile_vector([c.body for c in self.constraints], index, "constraints")
        gradient = self._gradient_of(self.sense * objective.expr)
        self._gradient_cols = np.array([j for j, _ in gradient], dtype=int)
        self._gradient = compile_vector([d for _, d in gradient], index, "gradient")
        rows, cols, exprs = [], [], []
        for k, c in enumerate(self.constraints):
            for j, d in self._gradient_of(c.body):
                rows.append(k)
                cols.append(j)
                exprs.append(d)
        self.jacobian = _Derivatives(np.array(rows, dtype=int), np.array(cols, dtype=int),
                                     compile_vector(exprs, index, "jacobian"))
        self._jacobian_exprs = exprs
        self.hessian_rows = self.hessian_cols = np.zeros(0, dtype=int)
        self._hessian_term = np.zeros(0, dtype=int)
        if self.hessian == "exact":
            self._build_hessian(gradient)
        self.x0 = np.array([self._start(v) for v in variables])

    # -- derivatives -----------------------------------------------------------------------------------
    def _gradient_of(self, expr) -> list[tuple[int, object]]:
        """(j, d expr / d x_j) over the variables expr uses, in x order."""
        return symbolic_gradient(expr, self.variables, self.index)

    def _build_hessian(self, gradient: list[tuple[int, object]]) -> None:
        """Second derivatives of the objective (term 0) and of each constraint (term k + 1), lower triangle."""
        entries: dict[tuple[int, int], list[tuple[int, object]]] = {}
        first = [gradient] + [self._gradient_of(c.body) for c in self.constraints]
        for term, derivatives in enumerate(first):
            for j, d in derivatives:
                for i, dd in self._gradient_of(d) if not _is_constant(d) else []:
                    if i >= j and not (_is_constant(dd) and float(pyo.value(dd)) == 0.0):
                        entries.setdefault((i, j), []).append((term, dd))
        keys = sorted(entries)
        self.hessian_rows = np.array([i for i, _ in keys], dtype=int)
        self.hessian_cols = np.array([j for _, j in keys], dtype=int)
        flat = [(position, term, dd) for position, key in enumerate(keys) for term, dd in entries[key]]
        self._hessian_position = np.array([p for p, _, _ in flat], dtype=int)
        self._hessian_term = np.array([t for _, t, _ in flat], dtype=int)
        self._hessian = compile_vector([dd for _, _, dd in flat], self.index, "hessian")

    @staticmethod
    def _start(v) -> float:
        """The variable's value, else 0 moved inside its bounds."""
        if v.value is not None:
            return float(v.value)
        lo = -np.inf if v.lb is None else float(v.lb)
        hi = np.inf if v.ub is None else float(v.ub)
        return float(np.clip(0.0, lo, hi))

    # -- Ipopt's callbacks -------------------------------------------------------------------------------
    def objective(self, x: np.ndarray) -> float:
        return float(self._objective(x)[0])

    def gradient(self, x: np.ndarray) -> np.ndarray:
        out = np.zeros(self.n)
        out[self._gradient_cols] = self._gradient(x)
        return out

    def constraints_values(self, x: np.ndarray) -> np.ndarray:
        return self._constraints(x) if self.m else np.zeros(0)

    def jacobian_values(self, x: np.ndarray) -> np.ndarray:
        return self.jacobian.values(x) if self.jacobian.nnz else np.zeros(0)

    def hessian_values(self, x: np.ndarray, multipliers: np.ndarray, objective_factor: float) -> np.ndarray:
        """Lower-triangle values of objective_factor grad^2 (sigma f) + sum_k multipliers_k grad^2 g_k."""
        weights = np.concatenate([[objective_factor], multipliers])[self._hessian_term]
        out = np.zeros(self.hessian_rows.size)
        if self._hessian_term.size:
            np.add.at(out, self._hessian_position, weights * self._hessian(x))
        return out


def _is_constant(expr) -> bool:
    return type(expr) in (int, float) or not expr.is_potentially_variable()


class _Callbacks:
    """The object cyipopt calls; counts the time spent in ecodec's callbacks."""

    def __init__(self, nlp: PyomoNLP):
        self.nlp = nlp
        self.callback_time_s = 0.0
        self.iterations = 0

    def _timed(self, fn, *args):
        started = time.perf_counter()
        try:
            return fn(*args)
        finally:
            self.callback_time_s += time.perf_counter() - started

    def objective(self, x):
        return self._timed(self.nlp.objective, x)

    def gradient(self, x):
        return self._timed(self.nlp.gradient, x)

    def constraints(self, x):
        return self._timed(self.nlp.constraints_values, x)

    def jacobian(self, x):
        return self._timed(self.nlp.jacobian_values, x)

    def jacobianstructure(self):
        return self.nlp.jacobian.rows, self.nlp.jacobian.cols

    def hessianstructure(self):
        return self.nlp.hessian_rows, self.nlp.hessian_cols

    def hessian(self, x, multipliers, objective_factor):
        return self._timed(self.nlp.hessian_values, x, multipliers, objective_factor)

    def intermediate(self, *args):
        self.iterations = int(args[1])
        return True


@dataclass
class IpoptOutcome(SolverOutcome):
    """A :class:`SolverOutcome` plus Ipopt's own message, its iterations, the time spent in ecodec's callbacks,
    the primal point and the multipliers per constraint (d objective / d bound)."""

    message: str = ""
    iterations: int = 0
    callback_time_s: float = 0.0
    x: np.ndarray | None = None
    constraint_duals: np.ndarray | None = None


def solve_with_ipopt(model: pyo.ConcreteModel, *, options: dict | None = None, hessian: str = "exact",
                     x0: np.ndarray | None = None, nlp: PyomoNLP | None = None) -> IpoptOutcome:
    """Solve ``model`` with Ipopt (see the module docstring); load the solution into it when there is one.

    ``options``: Ipopt options by name (e.g. ``{"tol": 1e-10, "max_iter": 500}``); ``x0``: a starting point in
    the order of ``nlp.variables`` (default: the variables' values); ``nlp``: a :class:`PyomoNLP` of ``model``
    already extracted (several starts reuse one extraction).
    """
    nlp = nlp or PyomoNLP(model, hessian=hessian)
    callbacks = _Callbacks(nlp)
    problem = cyipopt.Problem(n=nlp.n, m=nlp.m, problem_obj=callbacks, lb=nlp.x_lower, ub=nlp.x_upper,
                              cl=nlp.g_lower, cu=nlp.g_upper)
    problem.add_option("print_level", 0)
    problem.add_option("sb", "yes")
    if nlp.hessian == "limited-memory":
        problem.add_option("hessian_approximation", "limited-memory")
    for key, value in (options or {}).items():
        try:
            problem.add_option(key, value)
        except (TypeError, ValueError) as exc:
            raise SolveError(f"Ipopt option {key} = {value!r} was refused: {exc}") from None
    started = time.perf_counter()
    x, info = problem.solve(nlp.x0 if x0 is None else np.asarray(x0, dtype=float))
    elapsed = time.perf_counter() - started
    status = _STATUS.get(int(info["status"]), ERROR)
    message = info["status_msg"].decode() if isinstance(info["status_msg"], bytes) else str(info["status_msg"])
    has_solution = status == OPTIMAL
    x = np.asarray(x, dtype=float)
    outcome = IpoptOutcome(status=status, has_solution=has_solution,
                           objective=nlp.sense * nlp.objective(x) if has_solution else None,
                           objective_bound=None, mip_gap=None, solve_time_s=elapsed, solver=f"Ipopt {ipopt_version()}",
                           message=message, iterations=callbacks.iterations,
                           callback_time_s=callbacks.callback_time_s, x=x)
    if has_solution:
        for v, value in zip(nlp.variables, x):
            v.set_value(float(value), skip_validation=True)
        outcome.constraint_duals = -nlp.sense * np.asarray(info["mult_g"], dtype=float)
        outcome.duals = dict(zip(nlp.constraints, outcome.constraint_duals))
        suffix = model.component("dual")
        if isinstance(suffix, pyo.Suffix) and suffix.import_enabled():
            suffix.update(outcome.duals)
    log.info("Ipopt: %s (%s) in %.3f s, %d iterations, objective %s", status, message, elapsed,
             callbacks.iterations, outcome.objective)
    return outcome

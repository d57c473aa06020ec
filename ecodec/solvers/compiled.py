"""Compiled subproblems: each agent's local model built once in Pyomo, then solved many times as matrices.

Compilation (once per agent, from :meth:`CoupledProblem.local_model`):

* Pyomo's standard-form compiler (``LinearStandardFormCompiler``, mixed form) turns the local model into
  ``c, c0, A, row bounds``; the column bounds and integrality come from the Pyomo variables.  Variables that
  appear in no constraint and not in the cost (a free renewable's set-point, say) are appended as columns of
  their own so every decision has a column;
* the agent's contributions become the linear map  h_i(x) = H_i x + h0_i  with one row per (resource, step),
  resources in problem order (all-zero rows for resources the agent does not feed);
* its reported outputs (dispatch quantities) become another linear map  D_i x + d0_i, so results are read from
  the matrices without touching Pyomo again; the cost is  c' x + c0.

The program itself is a :class:`~ecodec.solvers.matrix.MatrixProblem` on a persistent HiGHS instance: drivers
append their own columns and rows once (an allocation row  H_i x - rho <= y,  a penalty column) and then change
only costs, bounds and right-hand sides between solves.  Models the compiler cannot take (a nonlinear term, an
agent whose ``is_quadratic()`` says its cost is quadratic) are rejected with a clear
:class:`~ecodec.errors.ProblemError` naming the agent.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
import pyomo.environ as pyo
import scipy.sparse as sp
from pyomo.repn import generate_standard_repn
from pyomo.repn.plugins.standard_form import LinearStandardFormCompiler

from ecodec.errors import ProblemError
from ecodec.problem.coupled import CoupledProblem
from ecodec.solvers.matrix import MatrixProblem
from ecodec.solvers.numerics import ComponentNames, check_ranges

log = logging.getLogger(__name__)


class SparseProduct:
    """``M @ v`` (or ``M.T @ v`` with ``transpose=True``) for a fixed sparse matrix M, made many times.

    The terms are added one by one in the order of M's CSR entries, as scipy's own product adds them, so the
    result is the same to the last bit; a call costs a third of scipy's (measured 1.2 us against 3.1 us for a
    24 x 49 coupling matrix), which counts when every agent evaluates a few such products per iteration.

    >>> m = sp.csr_array(np.array([[1.0, 0.0, 2.0], [0.0, 3.0, 0.0]]))
    >>> SparseProduct(m)(np.array([1.0, 1.0, 1.0])).tolist(), SparseProduct(m, transpose=True)(np.ones(2)).tolist()
    ([3.0, 3.0], [1.0, 3.0, 2.0])
    """

    __slots__ = ("shape", "_bins", "_picks", "_data", "_length")

    def __init__(self, matrix, *, transpose: bool = False):
        m = sp.csr_array(matrix)
        rows = np.repeat(np.arange(m.shape[0]), np.diff(m.indptr))
        self.shape = m.shape[::-1] if transpose else m.shape
        self._bins, self._picks = (m.indices, rows) if transpose else (rows, m.indices)
        self._data = m.data.astype(float)
        self._length = self.shape[0]

    def __call__(self, v: np.ndarray) -> np.ndarray:
        return np.bincount(self._bins, weights=self._data * v[self._picks], minlength=self._length)


@dataclass(frozen=True)
class LinearMap:
    """``matrix @ x[:n] + offset`` for the first ``n = matrix.shape[1]`` columns of a solution vector."""

    matrix: sp.csr_array
    offset: np.ndarray
    product: SparseProduct = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        object.__setattr__(self, "product", SparseProduct(self.matrix))

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.product(x) + self.offset


@dataclass(frozen=True)
class OutputRows:
    """Rows ``start .. start + T - 1`` of the output map hold ``quantity`` (in ``unit``) over the horizon."""

    quantity: str
    unit: str
    start: int


@dataclass
class StandardForm:
    """One agent's local program in numbers, as :class:`CompiledSubproblem` solves it: columns in the order of
    ``columns`` (Pyomo variables, read only for their names), rows in the order of ``rows`` (constraints), the
    cost  c' x + c0, the contribution map  H x + h0  (one row per resource and step) and the output map  D x + d0."""

    cost: np.ndarray
    offset: float
    lower: np.ndarray
    upper: np.ndarray
    matrix: sp.csc_array
    row_lower: np.ndarray
    row_upper: np.ndarray
    integer: np.ndarray
    contribution: LinearMap
    output: LinearMap
    columns: list
    rows: list
    fed: tuple[str, ...]
    outputs: tuple[OutputRows, ...]
    model: object = field(default=None, repr=False)  # the Pyomo model the names are read in (kept alive)


@dataclass
class BuiltForm:
    """:func:`build_standard_form`'s result: the numbers and the Pyomo objects they were read from (a shared
    layout, :mod:`ecodec.solvers.shared_layout`, reads them again with the numbers left as parameters)."""

    form: StandardForm
    model: pyo.ConcreteModel
    compiled_rows: list  # Pyomo's standard-form rows: (constraint, bound type)
    cost_expression: object
    contribution_expressions: list
    output_expressions: list


def build_standard_form(problem: CoupledProblem, agent) -> BuiltForm:
    """Build ``agent``'s local model in Pyomo and compile it to a :class:`StandardForm` (module docstring)."""
    name = agent.name
    built = problem.local_model(agent)
    model, block, terms = built.model, built.block(name), built.terms[name]
    try:
        form = LinearStandardFormCompiler().write(model, mixed_form=True, set_sense=None)
    except (ValueError, TypeError, NotImplementedError) as exc:
        raise ProblemError(f"agent '{name}' ({agent.kind}) cannot be compiled to a linear program for the "
                           f"distributed methods: {exc}") from None
    columns = list(form.columns)
    seen = {id(v) for v in columns}
    columns += [v for v in block.component_data_objects(pyo.Var, active=True, descend_into=True)
                if not v.fixed and id(v) not in seen]
    n = len(columns)
    index = {id(v): j for j, v in enumerate(columns)}
    a = sp.csc_array(form.A) if form.A.shape[0] else sp.csc_array((0, len(form.columns)))
    a.resize((a.shape[0], n))
    rhs = np.asarray(form.rhs, dtype=float)
    bound_type = np.array([row.bound_type for row in form.rows], dtype=int)
    cost = np.zeros(n)
    if form.c.shape[1]:
        cost[: form.c.shape[1]] = form.c.toarray()[0]
    resources = [r.name for r in problem.resources]
    contribution_exprs = [e for r in resources for e in terms.contributions.get(r, [0.0] * problem.grid.T)]
    outputs, output_exprs = [], []
    for out in agent.reported_outputs(block):
        component = block.component(out.component)
        outputs.append(OutputRows(out.quantity, out.unit, len(output_exprs)))
        output_exprs += [component[t] for t in problem.grid.steps]
    standard = StandardForm(
        cost=cost, offset=float(np.asarray(form.c_offset, dtype=float).sum()),
        lower=np.array([-np.inf if v.lb is None else v.lb for v in columns], dtype=float),
        upper=np.array([np.inf if v.ub is None else v.ub for v in columns], dtype=float),
        matrix=a, row_lower=np.where(bound_type >= 0, np.where(bound_type == 0, rhs, -np.inf), rhs),
        row_upper=np.where(bound_type <= 0, np.where(bound_type == 0, rhs, np.inf), rhs),
        integer=np.array([v.is_integer() or v.is_binary() for v in columns], dtype=bool),
        contribution=linear_map(contribution_exprs, index, name, "contribution"),
        output=linear_map(output_exprs, index, name, "reported output"),
        columns=columns, rows=[row.constraint for row in form.rows],
        fed=tuple(r for r in resources if r in terms.contributions), outputs=tuple(outputs), model=model)
    return BuiltForm(standard, model, list(form.rows), terms.cost, contribution_exprs, output_exprs)


def linear_map(exprs: list, index: dict[int, int], agent_name: str, what: str) -> LinearMap:
    """The linear map of ``exprs`` (one row each) over the columns ``index`` (id of a variable -> column)."""
    rows, cols, vals = [], [], []
    offset = np.zeros(len(exprs))
    for k, expr in enumerate(exprs):
        repn = generate_standard_repn(expr, compute_values=True, quadratic=False)
        if not repn.is_linear():
            raise ProblemError(f"agent '{agent_name}': its {what} #{k} is not linear in its variables")
        offset[k] = float(repn.constant)
        for var, coef in zip(repn.linear_vars, repn.linear_coefs):
            if id(var) not in index:
                raise ProblemError(f"agent '{agent_name}': its {what} uses '{var.name}', which is not one of its "
                                   "own decision variables")
            rows.append(k)
            cols.append(index[id(var)])
            vals.append(float(coef))
    matrix = sp.csr_array((vals, (rows, cols)), shape=(len(exprs), len(index)))
    matrix.sum_duplicates()
    return LinearMap(matrix, offset)


class CompiledSubproblem:
    """One agent's local problem in matrix form, with its cost, contribution and output maps.

    ``form``: the agent's numbers already compiled (a shared layout's, :mod:`ecodec.solvers.shared_layout`);
    without it the agent's model is built and compiled here."""

    def __init__(self, problem: CoupledProblem, agent_name: str, *, mip_rel_gap: float = 1e-6,
                 time_limit_s: float | None = None, form: StandardForm | None = None):
        agent = problem.agent(agent_name)
        if agent.is_quadratic():
            raise ProblemError(f"agent '{agent_name}' ({agent.kind}) has a quadratic cost, and the distributed "
                               "methods' compiled subproblems are linear: solve the case centrally, or give the "
                               "agent a linear cost (a grid's demand-dependent price: price_segments >= 1)")
        self.agent_name = agent_name
        self.kind = agent.kind
        self.T = problem.grid.T
        self.resources = [r.name for r in problem.resources]
        if form is None:
            form = build_standard_form(problem, agent).form
        a, cost, lower, upper = form.matrix, form.cost, form.lower, form.upper
        self.warnings = check_ranges(a, cost, lower, upper, form.row_lower, form.row_upper,
                                     ComponentNames(form.columns), ComponentNames(form.rows),
                                     f"agent '{agent_name}' ({agent.kind})")
        n = a.shape[1]
        self.cost_map = LinearMap(sp.csr_array(cost.reshape(1, -1)), np.array([form.offset]))
        #: the resources the agent feeds (its terms name them), in problem order
        self.fed = form.fed
        self.contribution_map = form.contribution
        self.outputs = form.outputs
        self.output_map = form.output
        self.n_model_columns = n
        self.cost_vector = cost  # c of the agent's own cost c' x + c0, one entry per model column
        self._lower, self._upper = lower, upper
        self.integer_columns = np.flatnonzero(form.integer)
        self.program = MatrixProblem(cost, lower, upper, a, form.row_lower, form.row_upper, integer=form.integer,
                                     offset=form.offset, name=f"{problem.name}:{agent_name}",
                                     mip_rel_gap=mip_rel_gap, time_limit_s=time_limit_s)
        log.debug("compiled %s: %d columns (%d integer), %d rows", agent_name, n, self.integer_columns.size,
                  a.shape[0])

    @property
    def is_mixed_integer(self) -> bool:
        return self.program.is_mixed_integer

    def cost(self, x: np.ndarray) -> float:
        """The agent's own cost c' x + c0 (currency)."""
        return float(self.cost_map(x)[0])

    def contribution(self, x: np.ndarray) -> np.ndarray:
        """h_i(x): contributions as an array of shape (resources, T), resources in problem order."""
        return self.contribution_map(x).reshape(len(self.resources), self.T)

    def output_values(self, x: np.ndarray) -> np.ndarray:
        """Reported outputs as an array of shape (outputs, T), in the order of :attr:`outputs`."""
        return self.output_map(x).reshape(len(self.outputs), self.T)

    def column_bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """Lower and upper bounds of the model columns as compiled (+-inf where unbounded)."""
        return self._lower.copy(), self._upper.copy()

    def linear_range(self, row: sp.csr_array, constant: float = 0.0) -> tuple[float, float]:
        """min and max of  row @ x + constant  over the agent's constraints (relaxed when mixed-integer).

        Solves two LPs on the program with the row as the cost, then restores the agent's cost; call it before
        a driver appends rows of its own.
        """
        coefficients = np.zeros(self.n_model_columns)
        coefficients[row.indices] = row.data
        relaxed = self.program.is_mixed_integer
        self.program.relax_integrality(True)
        ends = []
        try:
            for sign in (1.0, -1.0):
                self.set_model_cost(sign * coefficients, 0.0)
                solution = self.program.solve()
                ends.append(sign * solution.objective + constant if solution.has_solution
                            else -sign * np.inf)
        finally:
            self.set_model_cost()
            if relaxed:
                self.program.relax_integrality(False)
        return ends[0], ends[1]

    def set_model_cost(self, cost: np.ndarray | None = None, offset: float | None = None) -> None:
        """Replace the cost of the model columns (``None``: the agent's own cost  c' x + c0  again)."""
        self.program.set_costs(np.arange(self.n_model_columns), self.cost_vector if cost is None else cost)
        self.program.set_offset(float(self.cost_map.offset[0]) if offset is None else offset)

    def fix_integers(self, x: np.ndarray) -> None:
        """Fix every integer column at its (rounded) value in ``x``; the program becomes continuous."""
        if self.integer_columns.size:
            values = np.round(x[self.integer_columns])
            self.program.set_column_bounds(self.integer_columns, values, values)
            self.program.relax_integrality(True)

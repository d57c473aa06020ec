"""Compile once per structure: agents of one kind whose models have the same structure share one program layout.

A fleet of ten thousand vehicles holds a handful of model structures: the same variables and constraints, other
numbers.  Building and compiling one Pyomo model per agent (about 10 ms and 0.4 MB each, measured on a 2000-vehicle
fleet) is then set-up time spent on structure already known.  Here:

* **Structure of an agent**: its class and every parameter that is not a number: a mode, an integer step (an
  arrival step), a choice, whether an optional number is given, whether a profile is one number or a series (and
  its length).  Declared ``number`` parameters only fill the layout.  A class whose agents hold anything besides
  their declared parameters has no known structure: such agents (a user's own Pyomo agent, say) are compiled one
  by one, as is a group smaller than :data:`MIN_GROUP`.
* **Template**: the group's first agent is built once with each number replaced by a mutable Pyomo parameter
  (a profile by one parameter per step).  Pyomo's standard-form compiler gives the columns and rows in the order a
  per-agent build has, and ``generate_standard_repn(compute_values=False)`` every coefficient, right-hand side,
  column bound, cost, contribution and output as an expression of the parameters.
* **Fill**: each parameter then holds a numpy array with one entry per agent of the group, and each expression is
  evaluated once for the whole group (:func:`evaluate`): numbers are filled vectorized, with no Pyomo build per
  agent.
* **Checks**: the template's own numbers must equal what the compiler read from it, and the group's second agent
  is also built on its own and compared entry by entry, matched by column and row names (relative 1e-12): the
  shared layout must give the same matrices as a per-agent build.  A model that uses a number in a way a layout
  cannot follow is refused by Pyomo at build time (a Python ``if`` on a parameter, ``math.exp`` of it) or caught by
  these checks; its group is then compiled agent by agent, with the reason in the log.

Measured on generated LP fleets (docs/scale.md): one layout serves every vehicle of a fleet whose vehicles are
plugged in over the same window.
"""

from __future__ import annotations

import copy
import dataclasses
import io
import logging
from collections.abc import Sequence

import numpy as np
import pyomo.environ as pyo
import scipy.sparse as sp
from pyomo.common.log import LoggingIntercept
from pyomo.core.expr.numvalue import native_numeric_types
from pyomo.repn import generate_standard_repn

from ecodec.declarations import NUMBER
from ecodec.problem.coupled import CoupledProblem
from ecodec.solvers.compiled import BuiltForm, CompiledSubproblem, LinearMap, StandardForm, build_standard_form

log = logging.getLogger(__name__)

#: The smallest group compiled through a template: a template and its check cost about three per-agent builds
MIN_GROUP = 4
#: Relative tolerance of the checks against per-agent builds (the same numbers, added in another order)
CHECK_RTOL = 1e-12


def structure_key(agent) -> tuple | None:
    """What must be equal for two agents to share a layout (module docstring); None: no known structure.

    >>> from ecodec.models.ev import ElectricVehicle
    >>> a = ElectricVehicle("a", p_charge_kw=7.0, e_max_kwh=40.0, e_init_kwh=5.0, e_target_kwh=20.0, price_per_kwh=0.2)
    >>> b = ElectricVehicle("b", p_charge_kw=11.0, e_max_kwh=60.0, e_init_kwh=9.0, e_target_kwh=30.0, price_per_kwh=0.3)
    >>> c = ElectricVehicle("c", p_charge_kw=11.0, e_max_kwh=60.0, e_init_kwh=9.0, e_target_kwh=30.0, price_per_kwh=0.3,
    ...                     arrival_step=3)
    >>> structure_key(a) == structure_key(b), structure_key(a) == structure_key(c)
    (True, False)
    """
    declared = {p.name: p for p in agent.parameters()}
    if not dataclasses.is_dataclass(agent) or set(vars(agent)) - set(declared) - {"name"}:
        return None
    parts: list = [type(agent)]
    for name, p in declared.items():
        value = getattr(agent, name)
        if p.dtype == NUMBER and value is not None:
            parts.append((name, len(value)) if isinstance(value, (np.ndarray, list, tuple)) else (name, "number"))
        else:
            parts.append((name, repr(value)))
    return tuple(parts)


def _numbers(agent) -> dict[str, object]:
    """The agent's number parameters (a profile as an array)."""
    out = {}
    for p in agent.parameters():
        value = getattr(agent, p.name)
        if p.dtype == NUMBER and value is not None:
            out[p.name] = np.asarray(value, dtype=float) if isinstance(value, (np.ndarray, list, tuple)) \
                else float(value)
    return out


def evaluate(expr) -> np.ndarray | float:
    """The value of a Pyomo expression whose parameters hold numpy arrays (elementwise; max and min too).

    >>> p = pyo.Param(mutable=True, within=pyo.Any, initialize=np.array([1.0, 2.0])); p.construct()
    >>> evaluate(3 * p / 2 + 1).tolist()
    [2.5, 4.0]
    """
    if expr is None or expr.__class__ in native_numeric_types:
        return expr
    if not expr.is_expression_type():
        return pyo.value(expr)
    values = [evaluate(arg) for arg in expr.args]
    name = type(expr).__name__
    if name.endswith("MaxExpression"):
        return np.maximum.reduce(np.broadcast_arrays(*values))
    if name.endswith("MinExpression"):
        return np.minimum.reduce(np.broadcast_arrays(*values))
    return expr._apply_operation(values)


def _over_group(value, m: int) -> np.ndarray:
    """A coefficient's value for each of the group's m agents (None, an absent bound or constant: 0)."""
    return np.broadcast_to(np.asarray(0.0 if value is None else evaluate(value), dtype=float), (m,))


class _Layout:
    """One structure: the template's symbolic program, filled for a group of agents."""

    def __init__(self, problem: CoupledProblem, first):
        self.params: dict[str, object] = {}
        template = copy.copy(first)
        for name, value in _numbers(first).items():
            if isinstance(value, np.ndarray):
                param = pyo.Param(range(value.size), mutable=True, within=pyo.Any,
                                  initialize=dict(enumerate(value.tolist())))
            else:
                param = pyo.Param(mutable=True, within=pyo.Any, initialize=value)
            param.construct()
            object.__setattr__(template, name, param)
            self.params[name] = param
        self.built: BuiltForm = build_standard_form(problem, template)
        form, self.n = self.built.form, self.built.form.matrix.shape[1]
        self.index = {id(v): j for j, v in enumerate(form.columns)}
        self.bodies = {}
        for con, _ in self.built.compiled_rows:
            if id(con) not in self.bodies:
                self.bodies[id(con)] = self._linear(con.body, "constraint")
        self.cost = self._linear(self.built.cost_expression, "cost")
        self.contributions = [self._linear(e, "contribution") for e in self.built.contribution_expressions]
        self.outputs = [self._linear(e, "output") for e in self.built.output_expressions]

    def _linear(self, expr, what: str) -> tuple[list[int], list, object]:
        repn = generate_standard_repn(expr, compute_values=False, quadratic=False)
        if not repn.is_linear():
            raise ValueError(f"its {what} is not linear")
        columns = []
        for var in repn.linear_vars:
            if id(var) not in self.index:
                raise ValueError(f"its {what} uses '{var.name}', a column the compiler left out")
            columns.append(self.index[id(var)])
        return columns, list(repn.linear_coefs), repn.constant

    def fill(self, agents: Sequence) -> list[StandardForm]:
        """Every agent's numbers, one :class:`StandardForm` each, in the order of ``agents``."""
        m = len(agents)
        numbers = [_numbers(a) for a in agents]
        for name, param in self.params.items():
            stacked = np.array([n[name] for n in numbers], dtype=float)  # (m,) or (m, T)
            if param.is_indexed():
                for t in param:
                    param[t].set_value(stacked[:, t])
            else:
                param.set_value(stacked)

        template = self.built.form
        entries, rhs = [], []  # A's entries (row, column, values over the group) and each row's right-hand side
        for k, (con, bound_type) in enumerate(self.built.compiled_rows):
            columns, coefs, constant = self.bodies[id(con)]
            for j, coef in zip(columns, coefs):
                entries.append((k, j, _over_group(coef, m)))
            bound = con.lower if bound_type < 0 else con.upper
            rhs.append(_over_group(bound, m) - _over_group(constant, m))
        shape = (len(self.built.compiled_rows), self.n)
        matrix = _Pattern([e[0] for e in entries], [e[1] for e in entries], shape, "csc")
        data = matrix.order(np.array([e[2] for e in entries]).reshape(len(entries), m))
        rhs = np.array(rhs).reshape(len(rhs), m)
        bound_type = np.array([b for _, b in self.built.compiled_rows], dtype=int)
        lower = np.array([_over_group(v.lower, m) if v.lower is not None else np.full(m, -np.inf)
                          for v in template.columns]).reshape(self.n, m)
        upper = np.array([_over_group(v.upper, m) if v.upper is not None else np.full(m, np.inf)
                          for v in template.columns]).reshape(self.n, m)
        cost = np.zeros((self.n, m))
        columns, coefs, constant = self.cost
        for j, coef in zip(columns, coefs):
            cost[j] += _over_group(coef, m)
        offset = _over_group(constant, m)
        contribution = self._maps(self.contributions, m)
        output = self._maps(self.outputs, m)
        row_lower = np.where((bound_type >= 0)[:, None], np.where((bound_type == 0)[:, None], rhs, -np.inf), rhs)
        row_upper = np.where((bound_type <= 0)[:, None], np.where((bound_type == 0)[:, None], rhs, np.inf), rhs)
        cost, lower, upper, row_lower, row_upper = (np.ascontiguousarray(v.T) for v in
                                                     (cost, lower, upper, row_lower, row_upper))
        return [dataclasses.replace(
            template, cost=cost[i], offset=float(offset[i]), lower=lower[i], upper=upper[i],
            matrix=matrix.build(data[i]), row_lower=row_lower[i], row_upper=row_upper[i],
            contribution=contribution[i], output=output[i]) for i in range(m)]

    def _maps(self, linear: list, m: int) -> list[LinearMap]:
        rows, cols, values, offsets = [], [], [], []
        for k, (columns, coefs, constant) in enumerate(linear):
            for j, coef in zip(columns, coefs):
                rows.append(k)
                cols.append(j)
                values.append(_over_group(coef, m))
            offsets.append(_over_group(constant, m))
        pattern = _Pattern(rows, cols, (len(linear), self.n), "csr")
        values = pattern.order(np.array(values).reshape(len(rows), m))
        offsets = np.ascontiguousarray(np.array(offsets).reshape(len(linear), m).T)
        return [LinearMap(pattern.build(values[i]), offsets[i]) for i in range(m)]


class _Pattern:
    """The sparsity pattern of a group's matrices, sorted once: each agent's matrix is then made from its values
    in that order (no per-agent sort or duplicate check; a (row, column) given twice is summed as scipy would)."""

    def __init__(self, rows: list[int], cols: list[int], shape: tuple[int, int], fmt: str):
        n = len(rows)
        kind = sp.csc_array if fmt == "csc" else sp.csr_array
        sums = kind((np.ones(n), (np.asarray(rows, dtype=int), np.asarray(cols, dtype=int))), shape=shape)
        sums.sum_duplicates()
        first = kind((np.arange(1, n + 1, dtype=float), (np.asarray(rows, dtype=int), np.asarray(cols, dtype=int))),
                     shape=shape)
        first.sum_duplicates()  # sorts each row's (column's) entries, as for ``sums``
        self.single = bool(np.all(sums.data == 1.0))
        if self.single:  # the entry order CSR/CSC puts the triples in
            self.order_index = first.data.astype(int) - 1
        self.rows, self.cols = np.asarray(rows, dtype=int), np.asarray(cols, dtype=int)
        self.indices, self.indptr, self.shape, self.kind = sums.indices, sums.indptr, shape, kind

    def order(self, values: np.ndarray) -> np.ndarray:
        """(entries, agents) values in the given order -> (agents, stored entries), one contiguous row per agent."""
        if self.single:
            return np.ascontiguousarray(values[self.order_index].T)
        return np.ascontiguousarray(values.T)

    def build(self, values: np.ndarray):
        if self.single:
            return self.kind((values, self.indices, self.indptr), shape=self.shape)
        matrix = self.kind((values, (self.rows, self.cols)), shape=self.shape)
        matrix.sum_duplicates()
        return matrix


def same_program(a: StandardForm, b: StandardForm) -> str:
    """Empty when ``a`` and ``b`` are the same program up to the order of columns and rows (matched by name, to
    :data:`CHECK_RTOL`); else what differs."""
    if len(a.columns) != len(b.columns) or len(a.rows) != len(b.rows):
        return f"sizes {len(a.columns)} x {len(a.rows)} and {len(b.columns)} x {len(b.rows)}"
    col = {v.name: j for j, v in enumerate(b.columns)}
    names = [v.name for v in a.columns]
    if set(names) != set(col):
        return "other columns"
    perm = np.array([col[name] for name in names], dtype=int)
    row_names = [f"{c.name}#{lo}" for c, lo in zip(b.rows, np.isfinite(b.row_lower))]
    row = {name: k for k, name in enumerate(row_names)}
    keys = [f"{c.name}#{lo}" for c, lo in zip(a.rows, np.isfinite(a.row_lower))]
    if len(row) != len(row_names) or set(keys) != set(row):
        return "other rows"
    rperm = np.array([row[key] for key in keys], dtype=int)
    pairs = {
        "cost": (a.cost, b.cost[perm]), "offset": (np.array([a.offset]), np.array([b.offset])),
        "column lower bounds": (a.lower, b.lower[perm]), "column upper bounds": (a.upper, b.upper[perm]),
        "matrix": (a.matrix.toarray(), b.matrix.toarray()[np.ix_(rperm, perm)]),
        "row lower bounds": (a.row_lower, b.row_lower[rperm]), "row upper bounds": (a.row_upper, b.row_upper[rperm]),
        "integrality": (a.integer, b.integer[perm]),
        "contributions": (a.contribution.matrix.toarray(), b.contribution.matrix.toarray()[:, perm]),
        "contribution offsets": (a.contribution.offset, b.contribution.offset),
        "outputs": (a.output.matrix.toarray(), b.output.matrix.toarray()[:, perm]),
        "output offsets": (a.output.offset, b.output.offset)}
    for what, (x, y) in pairs.items():
        if not np.allclose(np.asarray(x, dtype=float), np.asarray(y, dtype=float), rtol=CHECK_RTOL, atol=1e-300,
                           equal_nan=True):
            return what
    return "" if (a.fed, a.outputs) == (b.fed, b.outputs) else "resources fed or outputs"


class SubproblemCompiler:
    """Compiles the agents ``names`` of ``problem`` (those a process hosts), a group of the same structure at once.

    ``compiler(name)`` returns the agent's :class:`~ecodec.solvers.compiled.CompiledSubproblem`; the first call for
    an agent of a group fills the whole group (module docstring).  ``shared``: the agents compiled through a
    template; ``fallbacks``: the structures compiled agent by agent, with the reason."""

    def __init__(self, problem: CoupledProblem, names: Sequence[str], *, mip_rel_gap: float = 1e-6,
                 time_limit_s: float | None = None):
        self.problem, self.mip_rel_gap, self.time_limit_s = problem, mip_rel_gap, time_limit_s
        groups: dict[tuple, list[str]] = {}
        for name in names:
            key = structure_key(problem.agent(name))
            if key is not None:
                groups.setdefault(key, []).append(name)
        self._group_of = {name: group for group in groups.values() if len(group) >= MIN_GROUP for name in group}
        self._forms: dict[str, StandardForm] = {}
        self.shared = 0
        self.fallbacks: list[str] = []

    def __call__(self, name: str) -> CompiledSubproblem:
        group = self._group_of.pop(name, None)
        if group is not None:
            self._fill(group)
        form = self._forms.pop(name, None)
        return CompiledSubproblem(self.problem, name, mip_rel_gap=self.mip_rel_gap, time_limit_s=self.time_limit_s,
                                  form=form)

    def _fill(self, group: list[str]) -> None:
        for name in group:
            self._group_of.pop(name, None)
        agents = [self.problem.agent(name) for name in group]
        try:  # Pyomo logs a rule it refuses as an error before raising: the refusal is a fallback, not an error
            with LoggingIntercept(io.StringIO(), "pyomo"):
                layout = _Layout(self.problem, agents[0])
            forms = layout.fill(agents)
            problem = same_program(forms[0], layout.built.form) or same_program(
                forms[1], build_standard_form(self.problem, agents[1]).form)
        except (TypeError, ValueError, ArithmeticError) as exc:
            problem = str(exc) or type(exc).__name__
        except Exception as exc:  # Pyomo refuses a Python branch on a parameter with its own exception class
            if type(exc).__module__.split(".")[0] != "pyomo":
                raise
            problem = str(exc).splitlines()[0]
        if problem:
            self.fallbacks.append(f"{agents[0].kind} agents like '{group[0]}' ({len(group)}): {problem}")
            log.info("compiled one by one: %s", self.fallbacks[-1])
            return
        self._forms.update(zip(group, forms))
        self.shared += len(group)
        log.debug("one layout for %d %s agents like '%s'", len(group), agents[0].kind, group[0])


__all__ = ["MIN_GROUP", "SubproblemCompiler", "evaluate", "same_program", "structure_key"]

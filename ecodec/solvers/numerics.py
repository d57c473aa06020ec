"""Numbers a solver can handle: the coefficients of a linear program checked before it is solved.

A solver works in double precision with absolute tolerances of about 1e-7 (HiGHS's primal and dual feasibility
tolerances).  Data far outside physical ranges but inside a parameter's declared bounds (an efficiency of 1e-16,
which puts 1/eta = 1e16 into an energy balance; a price of 1e15 per kWh beside prices of 0.05) does not make a
hard problem, it makes a meaningless one: HiGHS drops matrix entries below 1e-9 without a word, refuses entries
above 1e15, and between those ends it may return an error status, a wrong 'optimal' point, or dual values that
cannot be read back.  So ecodec checks the ranges first:

=============================  =========================================  ==========================================
what                           refused (ProblemError, exit code 2)          warned (log and the run's warnings)
=============================  =========================================  ==========================================
a nonzero matrix entry |a|     below :data:`SMALLEST_ENTRY` (1e-9) or     largest / smallest over the program above
                               above :data:`LARGEST_VALUE` (1e12)          :data:`WIDEST_RATIO` (1e10)
a cost coefficient |c|         above :data:`LARGEST_VALUE`                 largest / smallest nonzero above
                                                                           :data:`WIDEST_RATIO`
a finite bound or right-hand   above :data:`LARGEST_VALUE` (values from
side                           1e20 on are infinite, as in HiGHS)
=============================  =========================================  ==========================================

Each message names the value, the variable and the constraint (Pyomo names, which start with the agent's block:
``agents[bat1].…``), so the parameter behind it can be found.  The limits are ecodec's choice: a physical case
in kW, kWh and currency per kWh lies well inside them (the shipped cases span 1e-3 to 1e4), and 1e12 leaves four
orders of magnitude to HiGHS's hard limit.

>>> import numpy as np, scipy.sparse as sp
>>> refused, warned = coefficient_issues(sp.csr_array([[1.0, 1e16]]), np.array([0.2, 0.0]), np.zeros(2),
...                                      np.full(2, np.inf), np.array([-np.inf]), np.array([5.0]),
...                                      ["x", "y"], ["balance"])
>>> refused
['coefficient 1e+16 of y in balance: outside 1e-09 to 1e+12 in absolute value']
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import pyomo.environ as pyo
import scipy.sparse as sp
from pyomo.repn.plugins.standard_form import LinearStandardFormCompiler

from ecodec.errors import ProblemError

log = logging.getLogger(__name__)

SMALLEST_ENTRY = 1e-9  # HiGHS's small_matrix_value: entries below it are dropped
LARGEST_VALUE = 1e12
WIDEST_RATIO = 1e10
INFINITE = 1e20  # HiGHS's infinite bound
SHOWN = 3  # messages of one kind shown before 'and N more'


def coefficient_issues(matrix, cost, col_lower, col_upper, row_lower, row_upper, column_names: Sequence[str],
                       row_names: Sequence[str]) -> tuple[list[str], list[str]]:
    """(refused, warned): what in the program  min c'x  s.t.  row_lower <= A x <= row_upper,
    col_lower <= x <= col_upper  lies outside the ranges of the module docstring, each naming the value and
    where it is."""
    refused, warned = [], []
    data = matrix.data if sp.issparse(matrix) and matrix.format in ("csr", "csc", "coo") else sp.coo_array(matrix).data
    size = np.abs(data)
    bad = np.flatnonzero((size > 0) & ((size < SMALLEST_ENTRY) | (size > LARGEST_VALUE)))
    if bad.size:  # where they are (a COO view keeps the order of the stored entries)
        a = sp.coo_array(matrix)
        refused += _capped([f"coefficient {a.data[k]:.3g} of {column_names[a.col[k]]} in {row_names[a.row[k]]}: "
                            f"outside {SMALLEST_ENTRY:g} to {LARGEST_VALUE:g} in absolute value" for k in bad])
    cost = np.asarray(cost, dtype=float)
    refused += _capped([f"cost coefficient {cost[j]:.3g} of {column_names[j]}: above {LARGEST_VALUE:g} in absolute "
                        "value" for j in np.flatnonzero(np.abs(cost) > LARGEST_VALUE)])
    for values, names, what in ((col_lower, column_names, "lower bound"), (col_upper, column_names, "upper bound"),
                                (row_lower, row_names, "lower end"), (row_upper, row_names, "upper end")):
        values = np.asarray(values, dtype=float)
        big = np.flatnonzero((np.abs(values) > LARGEST_VALUE) & (np.abs(values) < INFINITE))
        refused += _capped([f"{what} {values[j]:.3g} of {names[j]}: above {LARGEST_VALUE:g} in absolute value "
                            f"(from {INFINITE:g} on a value means no limit)" for j in big])
    for values, what in ((size[size > 0], "matrix entries"), (np.abs(cost[cost != 0]), "cost coefficients")):
        if values.size and values.max() / values.min() > WIDEST_RATIO:
            warned.append(f"the {what} span {values.min():.3g} to {values.max():.3g}, a ratio above "
                          f"{WIDEST_RATIO:g}: the smallest are below the solver's tolerances next to the largest")
    return refused, warned


def _capped(messages: list[str]) -> list[str]:
    if len(messages) <= SHOWN:
        return messages
    return [*messages[:SHOWN], f"and {len(messages) - SHOWN} more like these"]


def check_linear_model(model, what: str) -> list[str]:
    """Check the linear (or mixed-integer) Pyomo ``model`` before it is solved: raise :class:`ProblemError` naming
    what lies outside the ranges (``what`` names the model: 'the case', "agent 'bat1' (storage)"), return the
    warnings.  A quadratic objective (a QP) is left out of the check: its constraints and bounds are checked."""
    quadratic = [o for o in model.component_data_objects(pyo.Objective, active=True)
                 if o.expr.polynomial_degree() not in (0, 1)]
    for objective in quadratic:
        objective.deactivate()
    try:
        form = LinearStandardFormCompiler().write(model, mixed_form=True, set_sense=None)
    finally:
        for objective in quadratic:
            objective.activate()
    columns = list(form.columns)
    rhs = np.asarray(form.rhs, dtype=float)
    bound_type = np.array([row.bound_type for row in form.rows], dtype=int)
    cost = form.c.toarray()[0] if form.c.shape[0] and form.c.shape[1] else np.zeros(len(columns))
    return check_ranges(form.A, cost, [-np.inf if v.lb is None else v.lb for v in columns],
                        [np.inf if v.ub is None else v.ub for v in columns],
                        np.where(bound_type >= 0, rhs, -np.inf), np.where(bound_type <= 0, rhs, np.inf),
                        ComponentNames(columns), ComponentNames([row.constraint for row in form.rows]), what)


class ComponentNames:
    """The names of Pyomo components, computed only for the few a message shows (a name costs microseconds, and
    the programs of thousands of agents are checked)."""

    def __init__(self, components):
        self.components = components

    def __getitem__(self, index: int) -> str:
        return self.components[index].name


def check_ranges(matrix, cost, col_lower, col_upper, row_lower, row_upper, column_names, row_names,
                 what: str) -> list[str]:
    """:func:`coefficient_issues`, refusals raised as one :class:`ProblemError` about ``what``; the warnings
    returned (and logged)."""
    refused, warned = coefficient_issues(matrix, cost, col_lower, col_upper, row_lower, row_upper, column_names,
                                         row_names)
    if refused:
        raise ProblemError(f"{what}: numbers no solver handles reliably (check the parameters of the agents these "
                           "names start with: an efficiency near 0, a price or limit far beyond physical values): "
                           + "; ".join(refused))
    for message in warned:
        log.warning("%s: %s", what, message)
    return [f"{what}: {message}" for message in warned]

"""Comparison: several runs of one case aligned against the centralized reference.

One row of KPIs per run, the reference first; every number comes from :mod:`ecodec.results.kpi`, the functions
the drivers, the CLI, the report and the tests use.  With f the total cost of a run, f* that of the reference,
D and D* all their dispatch values, r_{k,t} the residual of coupling row k at step t:

=======================  ==================================================================================
column                   value
=======================  ==================================================================================
method, status           of the run
objective                f (in the case's currency)
cost_gap                 |f - f*| / |f*|, 0 for the reference             (kpi.relative_cost_gap)
lower_bound              the run's own proven lower bound on the optimum: the MIP dual bound of a centralized
                         MILP (its optimum for an LP), the best dual bound of a method that certifies one
                         (info['lower_bound']); None otherwise
gap_to_bound             (f - B) / |f|, B the best lower bound of all the runs compared (normally the
                         centralized MILP's): how far f can at most be from the optimum (kpi.certified_gap);
                         only for a run whose rel_violation is within its stopping tolerance (a cost bought
                         with violated coupling says nothing about the optimum), None otherwise
max_violation            max_{k,t} |r_{k,t}|, each row in its own unit    (kpi.max_coupling_violation)
rms_violation            sqrt(mean_{k,t} r_{k,t}^2)                       (kpi.rms_coupling_violation)
rel_violation            max_k max_t |r_{k,t}| / S_k                     (kpi.relative_coupling_violation)
                         S_k: the scale the run measured it against (info['violation_scales']: the peak
                         |rhs_{k,t}|, or the reach of a balance whose rhs is 0), the peak |rhs| for older runs
distance                 ||D - D*|| / ||D*||                              (kpi.relative_decision_distance)
                         (D: the decisions a run names in info['decision_quantities'], else all dispatch)
iterations               info['iterations'] (1 for a single solve such as the centralized one)
iterations_to_1pct       the iteration after which the run stays within 1%: cost_gap <= 1e-2 and rel_violation
                         <= 1e-2 there and at every later iteration (kpi.iterations_to)
iterations_to_0.1pct     the same with 1e-3
first_to_1pct            the first iteration with cost_gap <= 1e-2 and rel_violation <= 1e-2, even when the run
                         goes back above 1% later (kpi.first_iteration_to)
first_to_0.1pct          the same with 1e-3
wall_time_s              info['wall_time_s']
messages                 info.get('messages', 0): messages the agents sent
message                  info['message']: how the run ended
=======================  ==================================================================================

A run without a solution keeps status, iterations, time, messages and message; its other KPIs are missing
(None).  ``iterations_to_*`` and ``first_to_*`` read the run's history; a history recorded without a reference (no
``cost_gap`` column) gets its gaps from its ``objective`` column and f* here, and a run without history (a
single solve) counts as reaching the tolerance at its last iteration when its final KPIs meet it.  None means
the tolerance was not reached (or, for ``iterations_to_*``, not kept to the last iteration) within the
iterations run.

:meth:`Comparison.format_table` leaves out the columns that say nothing about these runs: a KPI column that is 0
or missing for every run, and a ``first_to_*`` column equal to its ``iterations_to_*`` column in every run;
``wide=True`` (``--wide`` on the command line) shows them all.  The JSON and the table keep every column.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

from ecodec.errors import EcodecError
from ecodec.results import kpi
from ecodec.results.run_result import RunResult

TOLERANCES = {"iterations_to_1pct": 1e-2, "iterations_to_0.1pct": 1e-3}  # stays within from that iteration on
FIRST_CROSSINGS = {"first_to_1pct": "iterations_to_1pct", "first_to_0.1pct": "iterations_to_0.1pct"}
ITERATION_COUNTS = (*TOLERANCES, *FIRST_CROSSINGS)  # printed as '> N' when not reached
SOLVER_FEASIBILITY = 1e-6  # relative coupling violation a centralized solution can show (solver tolerances)
FLOAT_COLUMNS = ["objective", "cost_gap", "lower_bound", "gap_to_bound", "max_violation", "rms_violation",
                 "rel_violation", "distance", "wall_time_s"]
INT_COLUMNS = ["iterations", *ITERATION_COUNTS, "messages"]
DROPPABLE = [c for c in FLOAT_COLUMNS if c != "objective"] + ["messages"]  # may be 0 or n/a for every run
COLUMNS = ["method", "status", "objective", "cost_gap", "lower_bound", "gap_to_bound", "max_violation",
           "rms_violation", "rel_violation", "distance", "iterations", *ITERATION_COUNTS, "wall_time_s", "messages",
           "message"]


@dataclass(frozen=True)
class Comparison:
    """KPIs of several runs of case ``case_name`` against the run ``reference`` (see the module docstring)."""

    case_name: str
    reference: str
    currency: str
    rows: list[dict[str, object]]

    def table(self) -> pd.DataFrame:
        """One row per run, the columns of the module docstring; missing KPIs are NaN (or <NA> for counts)."""
        return pd.DataFrame(self.rows, columns=COLUMNS).astype(
            {**{c: "float64" for c in FLOAT_COLUMNS}, **{c: "Int64" for c in INT_COLUMNS}})

    def to_json_dict(self) -> dict[str, dict[str, object]]:
        """Per method its KPIs as plain Python values, None for a missing or non-finite one: strict JSON data."""
        return {str(row["method"]): {key: None if isinstance(value, float) and not math.isfinite(value) else value
                                     for key, value in row.items() if key != "method"} for row in self.rows}

    def format_table(self, wide: bool = False) -> str:
        """A fixed-width plain-text table for the terminal, followed by how each run ended.  Without ``wide`` the
        columns that say nothing about these runs are left out and named below the table (module docstring)."""
        headers = column_headers(self.currency)
        left_out = [] if wide else self.uninformative_columns()
        headers = {key: text for key, text in headers.items() if key not in left_out}
        cells = [[format_cell(row, key) for key in headers] for row in self.rows]
        widths = [max([len(header)] + [len(line[i]) for line in cells]) for i, header in enumerate(headers.values())]

        def line(values: list[str]) -> str:
            return "  ".join(v.ljust(w) if i < 2 else v.rjust(w) for i, (v, w) in enumerate(zip(values, widths)))

        caption = (f"case {self.case_name}: {len(self.rows)} runs; cost gap, rel. viol. and distance relative to "
                   f"'{self.reference}', violations in each resource's unit")
        out = [caption, line(list(headers.values())), line(["-" * w for w in widths])]
        out += [line(values) for values in cells]
        if left_out:
            every = column_headers(self.currency)
            empty = [every[key] for key in left_out if key not in FIRST_CROSSINGS]
            same = [f"{every[key]} (the same as '{every[FIRST_CROSSINGS[key]]}' in every run)"
                    for key in left_out if key in FIRST_CROSSINGS]
            reasons = ([f"{', '.join(empty)} (0 or n/a in every run)"] if empty else []) + same
            out.append(f"not shown: {'; '.join(reasons)}; --wide shows every column")
        out += ["", "how each run ended:"] + [f"  {row['method']}: {row['message']}" for row in self.rows]
        return "\n".join(out)


    def uninformative_columns(self) -> list[str]:
        """The KPI columns the compact table leaves out: 0 or missing in every run, or a first crossing equal to the
        iteration the run stays within from, in every run."""
        def empty(value: object) -> bool:
            return value is None or (isinstance(value, float) and math.isnan(value)) or value == 0

        out = []
        for key in column_headers(self.currency):
            if key in FIRST_CROSSINGS:
                if all(row[key] == row[FIRST_CROSSINGS[key]] for row in self.rows):
                    out.append(key)
            elif key in DROPPABLE and all(empty(row[key]) for row in self.rows):
                out.append(key)
        return out


def compare(runs: list[RunResult], reference: RunResult) -> Comparison:
    """The :class:`Comparison` of ``reference`` (first) and ``runs`` (in their order; ``reference`` may be among them).

    Raises EcodecError when the reference has no solution, when the runs are of different cases, or when two runs
    share a method name.
    """
    if not reference.has_solution:
        raise EcodecError(f"the reference run '{reference.method}' has no solution ({reference.status}: "
                          f"{reference.info.get('message', 'no message')}); there is nothing to compare against")
    ordered = [reference] + [run for run in runs if run is not reference]
    methods = [run.method for run in ordered]
    repeated = sorted({m for m in methods if methods.count(m) > 1})
    if repeated:
        raise EcodecError(f"several runs are named {', '.join(repeated)}; a comparison holds one run per method")
    others = sorted({run.case_name for run in ordered} - {reference.case_name})
    if others:
        raise EcodecError(f"runs of case(s) {', '.join(others)} cannot be compared with the reference run of case "
                          f"{reference.case_name}")
    rows = [_row(run, reference) for run in ordered]
    bounds = [row["lower_bound"] for row in rows if row["lower_bound"] is not None]
    if bounds:
        for run, row in zip(ordered, rows):
            if row["objective"] is not None and _meets_coupling(run, row):
                row["gap_to_bound"] = kpi.certified_gap(row["objective"], max(bounds))
    return Comparison(case_name=reference.case_name, reference=reference.method, currency=reference.currency,
                      rows=rows)


def _meets_coupling(run: RunResult, row: dict[str, object]) -> bool:
    """Whether the run's relative coupling violation is within the tolerance of its own stopping rules (a single
    solve, which has none, within SOLVER_FEASIBILITY)."""
    tolerance = run.info.get("stopping", {}).get("violation_tol", SOLVER_FEASIBILITY)
    return row["rel_violation"] is not None and row["rel_violation"] <= tolerance


def _row(run: RunResult, reference: RunResult) -> dict[str, object]:
    values: dict[str, object] = dict.fromkeys(COLUMNS)
    iterations = int(run.info.get("iterations", 1))
    wall = run.info.get("wall_time_s")
    values.update(method=run.method, status=run.status, iterations=iterations,
                  wall_time_s=float(wall) if wall is not None else None, messages=int(run.info.get("messages", 0)),
                  message=str(run.info.get("message", "")))
    if run.has_solution:
        declared = run.info.get("violation_kpis") or {}  # a kind without coupling rows says what it violates
        values.update(objective=float(run.objective),
                      cost_gap=kpi.relative_cost_gap(run.objective, reference.objective),
                      max_violation=declared.get("max_violation", kpi.max_coupling_violation(run.coupling)),
                      rms_violation=declared.get("rms_violation", kpi.rms_coupling_violation(run.coupling)),
                      rel_violation=declared.get("rel_violation", kpi.relative_coupling_violation(
                          run.coupling, run.info.get("violation_scales"))),
                      distance=kpi.relative_decision_distance(run.dispatch, reference.dispatch, _decisions(
                          run, reference)),
                      lower_bound=_lower_bound(run))
    for column, tol in TOLERANCES.items():
        values[column] = _iterations_to(run, reference.objective, tol, values, kpi.iterations_to)
    for column, stays in FIRST_CROSSINGS.items():
        values[column] = _iterations_to(run, reference.objective, TOLERANCES[stays], values, kpi.first_iteration_to)
    return values


def _decisions(run: RunResult, reference: RunResult) -> list[str] | None:
    """The quantities that are decisions when a run names them (a market: bid, fraction_sold), else None (all)."""
    named = run.info.get("decision_quantities") or reference.info.get("decision_quantities")
    return list(named) if named else None


def _lower_bound(run: RunResult) -> float | None:
    """The run's own proven lower bound (see the module docstring), None when it has none."""
    if "objective_bound" not in run.info:  # a distributed method: its certificate, if it keeps one
        bound = run.info.get("lower_bound")
    elif run.info.get("problem_class") == "LP" and run.status == "optimal":
        bound = run.objective  # strong duality
    else:
        bound = run.info["objective_bound"]
    return float(bound) if bound is not None and math.isfinite(float(bound)) else None


def _iterations_to(run: RunResult, reference_objective: float, tol: float, values: dict[str, object],
                   count) -> int | None:
    """``count`` (kpi.iterations_to or kpi.first_iteration_to) on the run's history, completed as the module
    docstring says."""
    history = run.history
    if history.empty:
        reached = values["cost_gap"] is not None and values["cost_gap"] <= tol and values["rel_violation"] <= tol
        return values["iterations"] if reached else None
    if "cost_gap" not in history.columns:
        history = history.assign(cost_gap=[kpi.relative_cost_gap(f, reference_objective) for f in history["objective"]])
    return count(history, tol)


def column_headers(currency: str) -> dict[str, str]:
    """The short heading of each KPI column (all but ``message``), as the terminal table and the report print it."""
    return {"method": "method", "status": "status", "objective": f"objective [{currency}]", "cost_gap": "cost gap",
            "lower_bound": f"bound [{currency}]", "gap_to_bound": "gap to bound", "max_violation": "max viol.",
            "rms_violation": "rms viol.", "rel_violation": "rel. viol.",
            "distance": "distance", "iterations": "iter.", "iterations_to_1pct": "to 1%",
            "iterations_to_0.1pct": "to 0.1%", "first_to_1pct": "first 1%", "first_to_0.1pct": "first 0.1%",
            "wall_time_s": "time [s]", "messages": "messages"}


def format_cell(row: dict[str, object], key: str) -> str:
    """The text of KPI ``key`` of a comparison row, as the terminal table and the PDF report print it:
    costs and times as 365.55, relative and violation KPIs as 5.26e-02, an unreached tolerance as '> N'
    (N the iterations run), a missing value as 'n/a'."""
    value = row[key]
    if key in ITERATION_COUNTS and value is None:
        return f"> {row['iterations']}"
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if key in ("objective", "wall_time_s", "lower_bound"):
        return _number(value)
    if key in ("cost_gap", "gap_to_bound", "max_violation", "rms_violation", "rel_violation", "distance"):
        return f"{value:.2e}"
    return str(value)


def _number(value: float) -> str:
    """365.55 for magnitudes in [0.01, 1e6), 3.66e+07 or 1.20e-04 outside, 0 for zero."""
    if value == 0:
        return "0"
    return f"{value:.2f}" if 1e-2 <= abs(value) < 1e6 else f"{value:.2e}"

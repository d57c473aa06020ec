"""The centralized solve: the whole coupled problem as one model on HiGHS, the reference for every method.

It builds :meth:`CoupledProblem.centralized_model` from the same agent code the distributed methods use, solves
it as an LP or MILP, and returns a :class:`~ecodec.results.RunResult` with dispatch, coupling rows (with dual
prices for LPs), per-agent costs, HiGHS's bound and gap, timings and sizes.

When HiGHS proves the case infeasible, ecodec explains where: first it solves each agent alone (an agent that
cannot operate within its own limits, e.g. a storage whose final-energy floor is out of reach, is named);
if every agent is feasible on its own, it solves the elastic (phase-one) model, which finds the least total
violation of the coupling rows, and names the resources and steps that cannot be met and by how much.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, fields

import numpy as np
import pandas as pd
import pyomo.environ as pyo

from ecodec.errors import EcodecError
from ecodec.problem.coupled import BuiltModel, CoupledProblem
from ecodec.results.run_result import RunResult, software_versions
from ecodec.solvers.highs import INFEASIBLE, INFEASIBLE_OR_UNBOUNDED, UNBOUNDED, solve_with_highs

log = logging.getLogger(__name__)

METHOD = "centralized"
_SLACK_TOL = 1e-6


@dataclass(frozen=True)
class CentralizedOptions:
    """Options of the centralized solve.

    ``time_limit_s``: stop HiGHS after this many seconds (None: no limit); ``mip_rel_gap``: relative MIP gap
    at which HiGHS stops (ignored for LPs).
    """

    time_limit_s: float | None = None
    mip_rel_gap: float = 1e-4

    def __post_init__(self):
        if self.time_limit_s is not None and not (isinstance(self.time_limit_s, (int, float))
                                                  and math.isfinite(self.time_limit_s) and self.time_limit_s > 0):
            raise EcodecError(f"centralized option time_limit_s must be a positive number of seconds, "
                              f"got {self.time_limit_s!r}")
        if not (isinstance(self.mip_rel_gap, (int, float)) and 0 <= self.mip_rel_gap < 1):
            raise EcodecError(f"centralized option mip_rel_gap must be a number in [0, 1), got {self.mip_rel_gap!r}")

    @classmethod
    def from_mapping(cls, values: dict[str, object]) -> CentralizedOptions:
        """Options from text or numbers (a workbook's 'drivers' sheet, the command line)."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise EcodecError(f"unknown centralized option(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        parsed = {}
        for key, value in values.items():
            if value is None or (isinstance(value, str) and value.lower() in {"", "none"}):
                parsed[key] = None
                continue
            try:
                parsed[key] = float(value)
            except (TypeError, ValueError):
                raise EcodecError(f"centralized option {key} must be a number, got {value!r}") from None
        return cls(**parsed)


def solve_centralized(problem: CoupledProblem, options: CentralizedOptions | None = None) -> RunResult:
    """Solve ``problem`` as one model; the result says why when there is no solution."""
    options = options or CentralizedOptions()
    started = time.perf_counter()
    built = problem.centralized_model()
    build_time = time.perf_counter() - started
    m = built.model
    variables = list(m.component_data_objects(pyo.Var, active=True))
    info = {
        "n_agents": len(problem.agents),
        "n_variables": len(variables),
        "n_integer_variables": sum(1 for v in variables if v.is_integer() or v.is_binary()),
        "n_constraints": sum(1 for _ in m.component_data_objects(pyo.Constraint, active=True)),
        "problem_class": "MILP" if problem.is_mixed_integer() else "LP",
    }
    outcome = solve_with_highs(m, time_limit_s=options.time_limit_s, mip_rel_gap=options.mip_rel_gap,
                               duals_of=m.coupling.values())
    info.update({
        "solver": outcome.solver, "objective_bound": outcome.objective_bound, "mip_gap": outcome.mip_gap,
        "build_time_s": build_time, "solve_time_s": outcome.solve_time_s,
        "options": {"time_limit_s": options.time_limit_s, "mip_rel_gap": options.mip_rel_gap},
        "versions": software_versions(),
    })
    if outcome.has_solution:
        dispatch, coupling, costs = _tables(problem, built, outcome.duals)
        info["message"] = _message(outcome.status, info)
    else:
        dispatch, coupling, costs = _empty_tables()
        info["message"] = _explain_failure(problem, outcome.status)
    info["wall_time_s"] = time.perf_counter() - started
    return RunResult(method=METHOD, case_name=problem.name, status=outcome.status, objective=outcome.objective,
                     currency=problem.currency, step_h=problem.grid.step_h, dispatch=dispatch, coupling=coupling,
                     agent_costs=costs, info=info)


def _message(status: str, info: dict) -> str:
    if status == "optimal":
        return f"optimal {info['problem_class']}" + (
            f" (MIP gap {info['mip_gap']:.2e})" if info["problem_class"] == "MILP" and info["mip_gap"] is not None
            else "")
    gap = info.get("mip_gap")
    return ("stopped at the time limit with a feasible solution"
            + (f"; relative gap to HiGHS's bound {gap:.2%}" if gap is not None else ""))


def _tables(problem: CoupledProblem, built: BuiltModel, duals: dict):
    steps = problem.grid.steps
    rows = []
    costs = []
    for agent in problem.agents:
        block = built.block(agent.name)
        for out in agent.reported_outputs(block):
            component = block.component(out.component)
            for t in steps:
                rows.append((t + 1, agent.name, agent.kind, out.quantity, float(pyo.value(component[t])), out.unit))
        costs.append((agent.name, agent.kind, float(pyo.value(built.terms[agent.name].cost))))
    dispatch = pd.DataFrame(rows, columns=["t", "agent", "kind", "quantity", "value", "unit"])
    agent_costs = pd.DataFrame(costs, columns=["agent", "kind", "cost"])
    lhs = problem.coupling_lhs(built)
    frames = []
    for r in problem.resources:
        if duals:
            price = np.array([duals[built.model.coupling[r.name, t]] for t in steps]) / problem.grid.step_h + 0.0
        else:
            price = np.full(problem.grid.T, np.nan)
        frames.append(pd.DataFrame({
            "t": np.arange(1, problem.grid.T + 1), "resource": r.name, "unit": r.unit, "lhs": lhs[r.name],
            "lower": r.lower(), "upper": r.upper(), "residual": r.residual(lhs[r.name]), "price": price,
            "price_unit": f"{problem.currency}/{r.unit}h"}))
    return dispatch, pd.concat(frames, ignore_index=True), agent_costs


def _empty_tables():
    return (pd.DataFrame(columns=["t", "agent", "kind", "quantity", "value", "unit"]),
            pd.DataFrame(columns=["t", "resource", "unit", "lhs", "lower", "upper", "residual", "price",
                                  "price_unit"]),
            pd.DataFrame(columns=["agent", "kind", "cost"]))


def _explain_failure(problem: CoupledProblem, status: str) -> str:
    if status == UNBOUNDED:
        return ("the total cost is unbounded below: some agent can earn without limit; check power limits and "
                "prices (a sell price above the buy price with unlimited export, for instance)")
    if status not in (INFEASIBLE, INFEASIBLE_OR_UNBOUNDED):
        return f"HiGHS stopped without a solution ({status}); try a longer time limit"
    alone = []
    for agent in problem.agents:
        local = problem.local_model(agent)
        if solve_with_highs(local.model).status in (INFEASIBLE, INFEASIBLE_OR_UNBOUNDED):
            alone.append(f"agent '{agent.name}' ({agent.kind}) cannot operate within its own limits "
                         f"(check its bounds, initial and final values)")
    if alone:
        return "the case is infeasible: " + "; ".join(alone)
    elastic = problem.centralized_model(elastic=True)
    outcome = solve_with_highs(elastic.model)
    if not outcome.has_solution:
        return f"the case is infeasible and the elastic model could not locate why ({outcome.status})"
    m = elastic.model
    parts = []
    for r in problem.resources:
        for label, var in (("short of its lower end", m.short), ("above its upper end", m.surplus)):
            amounts = np.array([pyo.value(var[r.name, t]) for t in problem.grid.steps])
            bad = np.flatnonzero(amounts > _SLACK_TOL)
            if bad.size:
                worst = int(bad[np.argmax(amounts[bad])])
                parts.append(f"resource '{r.name}' stays {label} at steps {_ranges(bad + 1)} (by up to "
                             f"{amounts[worst]:.4g} {r.unit} at step {worst + 1})")
    return "the case is infeasible: the agents together cannot meet the coupling rows: " + "; ".join(parts)


def _ranges(steps: np.ndarray) -> str:
    """'3-5, 9' for [3, 4, 5, 9]."""
    out, start, prev = [], None, None
    for s in [int(x) for x in steps]:
        if start is None:
            start = prev = s
        elif s == prev + 1:
            prev = s
        else:
            out.append(f"{start}-{prev}" if prev > start else f"{start}")
            start = prev = s
    out.append(f"{start}-{prev}" if prev > start else f"{start}")
    return ", ".join(out)

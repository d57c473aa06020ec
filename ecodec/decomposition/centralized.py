"""The centralized solve: the whole coupled problem as one model on HiGHS, the reference for every method.

Another solver of Pyomo's SolverFactory (GLPK, CBC, Gurobi...) takes the model instead with the option ``solver``
(:mod:`ecodec.solvers.pyomo_solver`).

It builds :meth:`CoupledProblem.centralized_model` from the same agent code the distributed methods use, solves
it as an LP or MILP, and returns a :class:`~ecodec.results.RunResult` with dispatch, coupling rows (with dual
prices for LPs), per-agent costs, HiGHS's bound and gap, timings and sizes.

When HiGHS proves the case infeasible, ecodec explains where: first it solves each agent alone (an agent that
cannot operate within its own limits, e.g. a storage whose final-energy floor is out of reach, is named);
if every agent is feasible on its own, it solves the elastic (phase-one) model, which finds the least total
violation of the coupling rows, and names the resources and steps that cannot be met and by how much.
"""

from __future__ import annotations

import functools
import logging
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyomo.environ as pyo

from ecodec.decomposition.centralized_aggregative import AGREE_TOL, solve_aggregative
from ecodec.decomposition.centralized_deployment import solve_deployment
from ecodec.decomposition.centralized_sharing import solve_sharing
from ecodec.decomposition.options import MethodOptions, OptionError, mip_gap_option, option
from ecodec.decomposition.registry import MethodSpec, register
from ecodec.declarations import NUMBER
from ecodec.problem.aggregative import AggregativeProblem
from ecodec.problem.coupled import BuiltModel, CoupledProblem
from ecodec.problem.online_sharing import OnlineSharingProblem
from ecodec.results.run_result import (COST_COLUMNS, RunResult, contribution_table, coupling_table, dispatch_table,
                                       utc_timestamp)
from ecodec.solvers.highs import solve_with_highs
from ecodec.solvers.ipopt import solve_with_ipopt
from ecodec.solvers.numerics import check_linear_model
from ecodec.solvers.pyomo_solver import solve_with_pyomo, solver_problem
from ecodec.versions import machine_facts, software_versions
from ecodec.vocabulary import CENTRALIZED, INFEASIBLE, INFEASIBLE_OR_UNBOUNDED, UNBOUNDED

log = logging.getLogger(__name__)

METHOD = CENTRALIZED
#: The solvers with ecodec's own path; any other name goes to Pyomo's SolverFactory
#: (:mod:`ecodec.solvers.pyomo_solver`)
SOLVERS = ("auto", "highs", "ipopt")
_SLACK_TOL = 1e-6


@dataclass(frozen=True)
class CentralizedOptions(MethodOptions):
    """Options of the centralized solve.

    ``time_limit_s``: stop the solver after this many seconds (None: no limit); ``mip_rel_gap``: relative MIP
    gap at which the solver stops (ignored for LPs); ``solver``: ``highs`` (LP, MILP) or ``ipopt`` (continuous
    problems, through :mod:`ecodec.solvers.ipopt`; a local optimum of an NLP, the optimum of a convex one);
    ``auto`` (the default) takes HiGHS for resource-coupled and online sharing cases and Ipopt for aggregative
    (market) cases; any other name (``glpk``, ``cbc``, ``gurobi_direct``, ``cplex``, ``scip``...) solves a
    resource-coupled case with that solver of Pyomo's ``SolverFactory`` (:mod:`ecodec.solvers.pyomo_solver`: time
    limit and MIP gap passed under the solver's own option names where ecodec knows them; coupling prices when the
    solver returns LP duals).  A name Pyomo does not know, or a solver not installed here, is refused with how to
    install it.  The distributed methods' subproblems always use the compiled HiGHS path.  For an online sharing
    case the solve is the comparator of the environment drawn from ``seed``
    (:mod:`~ecodec.decomposition.centralized_sharing`).
    For an aggregative case, ``starts`` starting points (drawn from ``seed``) and ``agree_tol``, the relative
    tolerance within which two local optima count as the same (:mod:`~ecodec.decomposition.centralized_aggregative`).
    """

    method = METHOD
    time_limit_s: float | None = option(None, "s", "stop the solver after this time (none: no limit)", lower=0.0,
                                        lower_open=True, optional=True, dtype=NUMBER)
    mip_rel_gap: float = mip_gap_option(1e-4)
    solver: str = option("auto", "-", "highs (LP, MILP), ipopt (continuous problems; a local optimum of an NLP), "
                         "auto: HiGHS for coupled cases, Ipopt for aggregative (market) cases, or the name of any "
                         "installed solver of Pyomo's SolverFactory (glpk, cbc, gurobi_direct, cplex, scip...) for "
                         "coupled cases")
    starts: int = option(5, "-", "aggregative cases: number of starting points of Ipopt", lower=1, upper=1000)
    seed: int = option(0, "-", "aggregative cases: seed of the drawn starting points; online sharing cases: seed of "
                       "the environment whose rounds the comparator solves", lower=0)
    agree_tol: float = option(AGREE_TOL, "-", "aggregative cases: relative tolerance within which two local optima "
                              "count as the same", lower=0.0, upper=1.0, lower_open=True, upper_open=True)

    def __post_init__(self):
        super().__post_init__()
        name = self.solver.strip()
        object.__setattr__(self, "solver", name.lower() if name.lower() in SOLVERS else name)
        if self.solver not in SOLVERS:  # any other name: Pyomo's SolverFactory, installed here
            problem = solver_problem(self.solver)
            if problem is not None:
                raise OptionError(f"{self.method} option solver must be 'auto', 'highs', 'ipopt' or a solver of "
                                  f"Pyomo's SolverFactory installed here, got {self.solver!r}: {problem}")


#: The problem kinds whose centralized solve is their own: (the solvers accepted, why others are not, the solve)
_OWN_SOLVE = {
    "aggregative": (("auto", "ipopt"), "this market case is a nonlinear program: use solver 'ipopt' (or 'auto'), "
                    "which solves it from several starts", solve_aggregative),
    "online-sharing": (("auto", "highs"), "the comparator of an online sharing case is an LP per round, solved by "
                       "HiGHS: use solver 'highs' (or 'auto')", solve_sharing),
    "deployment": (("auto",), "a deployment case is solved by L-BFGS-B on the exact divergence: use solver 'auto'",
                   solve_deployment),
}


def solve_centralized(problem: CoupledProblem | AggregativeProblem | OnlineSharingProblem,
                      options: CentralizedOptions | None = None) -> RunResult:
    """Solve ``problem`` as one model; the result says why when there is no solution."""
    options = options or CentralizedOptions()
    started, started_at = time.perf_counter(), utc_timestamp()
    own = _OWN_SOLVE.get(problem.kind)
    if own is not None:  # a kind with its own centralized solve, and the solver it cannot take
        accepted, why, solve = own
        if options.solver not in accepted:
            raise OptionError(f"centralized: solver '{options.solver}' does not solve this case: {why}")
        info = {"n_agents": len(problem.agents), "problem_class": problem.problem_class, "started_at": started_at,
                "options": options.as_dict()}
        return solve(problem, options, started, info)
    built = problem.centralized_model()
    build_time = time.perf_counter() - started
    m = built.model
    variables = list(m.component_data_objects(pyo.Var, active=True))
    info = {
        "n_agents": len(problem.agents),
        "n_variables": len(variables),
        "n_integer_variables": sum(1 for v in variables if v.is_integer() or v.is_binary()),
        "n_constraints": sum(1 for _ in m.component_data_objects(pyo.Constraint, active=True)),
        "problem_class": problem.problem_class, "started_at": started_at,
        "violation_scales": problem.violation_scales_by_name(),  # what rel_violation is measured against
    }
    if options.solver == "ipopt":  # 'auto' is HiGHS here
        outcome = solve_with_ipopt(m, options={} if options.time_limit_s is None
                                   else {"max_wall_time": float(options.time_limit_s)})
    else:
        info["warnings"] = check_linear_model(m, f"case '{problem.name}'")  # hopeless numbers refused, not solved
        solve = solve_with_highs if options.solver in SOLVERS else functools.partial(solve_with_pyomo,
                                                                                      name=options.solver)
        outcome = solve(m, time_limit_s=options.time_limit_s, mip_rel_gap=options.mip_rel_gap,
                        duals_of=m.coupling.values())
    info.update({
        "solver": outcome.solver, "objective_bound": outcome.objective_bound, "mip_gap": outcome.mip_gap,
        "build_time_s": build_time, "solve_time_s": outcome.solve_time_s,
        "options": {"time_limit_s": options.time_limit_s, "mip_rel_gap": options.mip_rel_gap,
                    "solver": options.solver},
        "versions": software_versions(), "machine": machine_facts(),
    })
    if not outcome.has_solution:
        info["message"] = _explain_failure(problem, outcome.status, outcome.solver)
        info["wall_time_s"] = time.perf_counter() - started
        return RunResult.empty(METHOD, problem, outcome.status, info)
    dispatch, coupling, costs, contributions = _tables(problem, built, outcome.duals)
    info["message"] = _message(outcome.status, info)
    info["wall_time_s"] = time.perf_counter() - started
    return RunResult(method=METHOD, case_name=problem.name, status=outcome.status, objective=outcome.objective,
                     currency=problem.currency, step_h=problem.grid.step_h,
                     start=problem.grid.start, dispatch=dispatch, coupling=coupling,
                     agent_costs=costs, info=info, contributions=contributions)


def _message(status: str, info: dict) -> str:
    if status == "optimal":
        return f"optimal {info['problem_class']}" + (
            f" (MIP gap {info['mip_gap']:.2e})" if info["problem_class"] == "MILP" and info["mip_gap"] is not None
            else "")
    gap = info.get("mip_gap")
    return ("stopped at the time limit with a feasible solution"
            + (f"; relative gap to {info['solver'].split()[0]}'s bound {gap:.2%}" if gap is not None else ""))


def _tables(problem: CoupledProblem, built: BuiltModel, duals: dict):
    outputs, costs = built.outputs_and_costs(problem)
    terms = {agent.name: (agent.kind, np.array(
        [[pyo.value(e) for e in built.terms[agent.name].contributions.get(r.name, [0.0] * problem.grid.T)]
         for r in problem.resources], dtype=float)) for agent in problem.agents}
    lhs = problem.coupling_lhs(built)
    coupling = built.model.coupling
    prices = np.array([[duals[coupling[r.name, t]] if (r.name, t) in coupling else 0.0 for t in problem.grid.steps]
                       for r in problem.resources]) if duals else None
    if prices is not None:
        prices /= np.array([[problem.grid.step_h if r.per_hour else 1.0] for r in problem.resources])
    return (dispatch_table(outputs), coupling_table(problem, np.stack([lhs[r.name] for r in problem.resources]),
                                                    prices), pd.DataFrame(costs, columns=COST_COLUMNS),
            contribution_table(problem, terms))


def _explain_failure(problem: CoupledProblem, status: str, solver: str = "HiGHS") -> str:
    if status == UNBOUNDED:
        return ("the total cost is unbounded below: some agent can earn without limit; check power limits and "
                "prices (a sell price above the buy price with unlimited export, for instance)")
    if status not in (INFEASIBLE, INFEASIBLE_OR_UNBOUNDED):
        return f"{solver.split()[0]} stopped without a solution ({status}); try a longer time limit"
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


register(MethodSpec(METHOD, "the whole problem as one model on one solver (HiGHS, or Ipopt for a market): the "
                    "reference every distributed run is compared with",
                    kinds=("coupled", "structured", "aggregative", "online-sharing", "deployment"),
                    options=CentralizedOptions, solve=solve_centralized))

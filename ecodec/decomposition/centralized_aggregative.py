"""The centralized solve of an aggregative problem (the community market): one NLP on Ipopt, from several starts.

The model is :meth:`AggregativeProblem.centralized_model`: every agent's decisions, the aggregates sigma as
variables tied to the mean of the shares, objective sum_i f_i(x_i, sigma).  It is nonconvex in general (the
sharing rule divides by the total bid), so Ipopt, which finds a local optimum, is started from ``starts`` points:
the model's own initial values (each agent's documented start, e.g. the middle of the bid range) and
``starts - 1`` points drawn uniformly within the decisions' bounds from the seed (within 1 of the initial value on
an unbounded side), each with the aggregates at the values the drawn decisions give.  The result is the best
local optimum found, its decisions clipped into their bounds (Ipopt relaxes them by 1e-8) and sigma set exactly to
the mean of the shares, the cost evaluated there.  ``info`` says how many starts ended optimal, their objectives,
and whether they agree: every optimal start within ``agree_tol`` of the best, both in objective (relative) and in
decisions (relative Euclidean distance).  When they disagree the message says by how much: the best is then only
the best of the local optima found.
"""

from __future__ import annotations

import logging
import time

import numpy as np
import pandas as pd
import pyomo.environ as pyo

from ecodec.problem.aggregative import AggregativeProblem
from ecodec.results.run_result import COST_COLUMNS, COUPLING_COLUMNS, RunResult, dispatch_table
from ecodec.solvers.ipopt import PyomoNLP, solve_with_ipopt
from ecodec.versions import machine_facts, software_versions
from ecodec.vocabulary import CENTRALIZED

log = logging.getLogger(__name__)

#: Relative tolerance within which two starts count as the same optimum
AGREE_TOL = 1e-6
#: Ipopt's tolerances for the reference solve (tighter than its defaults, so decisions agree to ~1e-8)
IPOPT_OPTIONS = {"tol": 1e-10, "acceptable_tol": 1e-8, "max_iter": 3000}


def solve_aggregative(problem: AggregativeProblem, options, started: float, info: dict) -> RunResult:
    """Solve ``problem`` with Ipopt from ``options.starts`` starting points (``options.seed`` draws them)."""
    built_started = time.perf_counter()
    built = problem.centralized_model()
    m = built.model
    nlp = PyomoNLP(m)
    build_time = time.perf_counter() - built_started
    info.update({"n_variables": nlp.n, "n_integer_variables": 0, "n_constraints": nlp.m,
                 "build_time_s": build_time, "versions": software_versions(), "machine": machine_facts()})
    sigma_ids = {id(v) for v in m.sigma.values()}
    decision = np.array([id(v) not in sigma_ids for v in nlp.variables])
    starts = [nlp.x0.copy()]
    rng = np.random.default_rng(options.seed)
    low = np.where(np.isfinite(nlp.x_lower), nlp.x_lower, nlp.x0 - 1.0)  # an unbounded side: within 1 of x0
    high = np.where(np.isfinite(nlp.x_upper), nlp.x_upper, nlp.x0 + 1.0)
    for _ in range(options.starts - 1):
        drawn = low + (high - low) * rng.random(nlp.n)
        for v, value in zip(nlp.variables, drawn):
            if id(v) not in sigma_ids:
                v.set_value(float(value), skip_validation=True)
        problem.set_aggregates(built)  # sigma consistent with the drawn decisions
        starts.append(np.array([float(v.value) for v in nlp.variables]))
    ipopt = dict(IPOPT_OPTIONS)
    if options.time_limit_s is not None:
        ipopt["max_wall_time"] = float(options.time_limit_s)
    outcomes = []
    for k, x0 in enumerate(starts):
        outcome = solve_with_ipopt(m, options=ipopt, x0=x0, nlp=nlp)
        log.info("start %d of %d: %s, objective %s", k + 1, len(starts), outcome.status, outcome.objective)
        outcomes.append(outcome)
    solved = [o for o in outcomes if o.has_solution]
    info.update({"solver": outcomes[0].solver, "objective_bound": None, "mip_gap": None,
                 "solve_time_s": float(sum(o.solve_time_s for o in outcomes)),
                 "starts": len(starts), "starts_optimal": len(solved),
                 "start_objectives": [o.objective for o in outcomes]})
    if not solved:
        info["message"] = (f"Ipopt found no local optimum from {len(starts)} starts (first: {outcomes[0].status}, "
                           f"{outcomes[0].message})")
        info["wall_time_s"] = time.perf_counter() - started
        return RunResult.empty(CENTRALIZED, problem, outcomes[0].status, info)
    best = min(solved, key=lambda o: o.objective)
    scale = max(float(np.linalg.norm(best.x[decision])), 1e-12)
    distances = [float(np.linalg.norm(o.x[decision] - best.x[decision])) / scale for o in solved]
    gaps = [abs(o.objective - best.objective) / max(abs(best.objective), 1e-12) for o in solved]
    agree = max(distances) <= options.agree_tol and max(gaps) <= options.agree_tol
    info.update({"starts_agree": bool(agree), "start_max_distance": max(distances), "start_max_cost_gap": max(gaps)})
    for v, value, lo, hi in zip(nlp.variables, best.x, nlp.x_lower, nlp.x_upper):  # the best start, within bounds
        v.set_value(float(np.clip(value, lo, hi)), skip_validation=True)
    problem.set_aggregates(built)  # sigma exactly the mean of the shares (Ipopt meets the rows to its tolerance)
    objective = float(pyo.value(m.objective))
    info["message"] = (f"local optimum of the NLP; {len(solved)} of {len(starts)} starts optimal and "
                       + ("all agree" if agree else
                          f"they disagree (up to {max(gaps):.1e} in cost, {max(distances):.1e} in decisions): the "
                          f"best is kept"))
    info["wall_time_s"] = time.perf_counter() - started
    outputs, costs = built.outputs_and_costs(problem)
    info["decision_quantities"] = sorted({q for agent in problem.agents
                                          for q in problem.decision_quantities(agent, built.block(agent.name))})
    return RunResult(method=CENTRALIZED, case_name=problem.name, status=best.status, objective=objective,
                     currency=problem.currency, step_h=problem.grid.step_h,
                     start=problem.grid.start, dispatch=dispatch_table(outputs),
                     coupling=pd.DataFrame(columns=COUPLING_COLUMNS),
                     agent_costs=pd.DataFrame(costs, columns=COST_COLUMNS), info=info)



"""The centralized solve of a deployment problem: L-BFGS-B on the exact divergence of p(x) from the agents'
initial positions, within the workspace (scipy), the reference MACROPT is compared with.

The cost is non-convex: L-BFGS-B, like MACROPT, finds a stationary point, and from the same start the two may
reach different ones; ``info`` gives the divergence of both ends and the stationarity of this one.  Each agent's
cost column is an equal share of the divergence (the network's, not its own), so the costs add up to the
objective.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
from scipy.optimize import minimize

from ecodec.results.run_result import COST_COLUMNS, COUPLING_COLUMNS, RunResult, dispatch_table
from ecodec.versions import machine_facts, software_versions
from ecodec.vocabulary import CENTRALIZED, OPTIMAL, TIME_LIMIT

#: L-BFGS-B's limits for the reference solve
MAX_ITERATIONS, GRADIENT_TOL = 20000, 1e-10


def solve_deployment(problem, options, started: float, info: dict) -> RunResult:
    """L-BFGS-B from the initial positions (module docstring)."""
    start = problem.initial_positions()
    n = problem.n_agents
    ws = problem.workspace
    bounds = [(ws.x_min, ws.x_max), (ws.y_min, ws.y_max)] * n

    def value_and_gradient(flat):
        positions = flat.reshape(n, 2)
        kernels = problem.kernels(positions)
        return problem.divergence(kernels.mean(axis=0)), problem.gradient(positions, kernels).ravel()

    solved = minimize(value_and_gradient, start.ravel(), jac=True, method="L-BFGS-B", bounds=bounds,
                      options={"maxiter": MAX_ITERATIONS, "gtol": GRADIENT_TOL, "ftol": 1e-15})
    positions = solved.x.reshape(n, 2)
    divergence = problem.divergence(problem.model(positions))
    status = OPTIMAL if solved.success else TIME_LIMIT
    info.update({"n_variables": 2 * n, "n_integer_variables": 0, "n_constraints": 0,
                 "solver": "scipy L-BFGS-B (a stationary point)", "iterations_solver": int(solved.nit),
                 "initial_divergence": problem.divergence(problem.model(start)),
                 "stationarity": problem.stationarity(positions), "versions": software_versions(),
                 "machine": machine_facts(),
                 "layout": problem.layout(), "snapshots": {"0": start.tolist(), "final": positions.tolist()},
                 "message": f"L-BFGS-B: {solved.message} after {solved.nit} iterations (a stationary point of the "
                            "non-convex divergence)", "wall_time_s": time.perf_counter() - started})
    names = [a.name for a in problem.agents]
    dispatch = dispatch_table({a.name: (a.kind, [("x", "m"), ("y", "m")], positions[k].reshape(2, 1))
                               for k, a in enumerate(problem.agents)})
    costs = pd.DataFrame([(name, a.kind, divergence / n) for name, a in zip(names, problem.agents)],
                         columns=COST_COLUMNS)
    return RunResult(method=CENTRALIZED, case_name=problem.name, status=status, objective=float(divergence),
                     currency=problem.currency, step_h=1.0, dispatch=dispatch,
                     coupling=pd.DataFrame(columns=COUPLING_COLUMNS), agent_costs=costs, info=info)


__all__ = ["solve_deployment"]

"""The centralized solve of an online sharing problem: the comparator, the best allocation of every round in
hindsight for the environment drawn from ``seed`` (:mod:`ecodec.solvers.sharing_comparator`: one LP compiled once
and re-solved round after round on HiGHS).

Its result is the reference the online methods are measured against: per node and round the same quantities as
theirs (generation, demand, kept, sent, received, shortfall, loss f_i,t, violation, which is 0), the total loss
as the objective, and in ``info`` the environment's seed and the comparator's path length P_T, in total and per
node (the paper's Table II reports it per node).
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

from ecodec.decomposition.bandit_sharing import OUTPUT_LABELS
from ecodec.problem.online_sharing import OnlineSharingProblem
from ecodec.results.run_result import COST_COLUMNS, COUPLING_COLUMNS, RunResult, dispatch_table
from ecodec.solvers.sharing_comparator import comparator_sequence
from ecodec.versions import highs_version, machine_facts, software_versions
from ecodec.vocabulary import CENTRALIZED, OPTIMAL


def node_records(problem: OnlineSharingProblem, allocations: np.ndarray, env) -> dict[str, np.ndarray]:
    """Per node, the values of :data:`OUTPUT_LABELS` over the rounds (shape (8, T)) for the allocations of every
    arc per round (shape (T, arcs))."""
    T, n = allocations.shape[0], problem.n_agents
    out = np.zeros((n, len(OUTPUT_LABELS), T))
    for t in range(T):
        x = allocations[t]
        received = problem.received(x)
        sent = np.bincount(problem.arc_sender, weights=x, minlength=n)
        kept = x[problem.arc_sender == problem.arc_recipient]
        out[:, :, t] = np.column_stack([
            env.generation_kw[:, t], env.demand_kw[:, t], kept, sent - kept, received,
            np.maximum(0.0, env.demand_kw[:, t] - received), problem.node_losses(x, env, t),
            problem.violations(x, env, t)])
    return {a.name: out[i] for i, a in enumerate(problem.agents)}


def solve_sharing(problem: OnlineSharingProblem, options, started: float, info: dict) -> RunResult:
    """The comparator of the environment drawn from ``options.seed``."""
    env = problem.environment(options.seed)
    sequence = comparator_sequence(problem, env)
    records = node_records(problem, sequence.allocations, env)
    names = [a.name for a in problem.agents]
    info.update({
        "n_variables": problem.n_arcs + problem.n_agents, "n_integer_variables": 0,
        "n_constraints": 2 * problem.n_agents, "solver": f"HiGHS {highs_version()}", "rounds": problem.grid.T,
        "environment_seed": options.seed, "path_length": sequence.path_length,
        "path_length_per_node": dict(zip(names, sequence.path_length_per_node.tolist())),
        "solve_time_s": sequence.solve_time_s, "versions": software_versions(), "machine": machine_facts(),
        "decision_quantities": ["kept", "sent"],
        "violation_kpis": {"max_violation": 0.0, "rel_violation": 0.0, "rms_violation": 0.0},
        "message": f"best allocation in hindsight of each of {problem.grid.T} rounds (seed {options.seed})",
        "wall_time_s": time.perf_counter() - started})
    costs = pd.DataFrame([(a.name, a.kind, float(records[a.name][6].sum())) for a in problem.agents],
                         columns=COST_COLUMNS)
    dispatch = dispatch_table({a.name: (a.kind, list(OUTPUT_LABELS), records[a.name]) for a in problem.agents})
    return RunResult(method=CENTRALIZED, case_name=problem.name, status=OPTIMAL,
                     objective=float(sequence.losses.sum()), currency=problem.currency, step_h=problem.grid.step_h,
                     start=problem.grid.start,
                     dispatch=dispatch, coupling=pd.DataFrame(columns=COUPLING_COLUMNS), agent_costs=costs, info=info)


__all__ = ["node_records", "solve_sharing"]

"""The driver interface and the iteration loop every distributed method shares.

A distributed method is a :class:`Driver`: what each agent does per iteration (its local solve, its local
update, the messages it sends), written against a runtime (:mod:`ecodec.runtime`) that runs the agents it hosts
and delivers their messages.  The loop in :func:`run_driver` is the same for every method:

1. ``driver.setup()`` compiles each local subproblem once;
2. per iteration k = 0, 1, ...: ``driver.iterate(k)`` advances every agent and returns the method's own
   per-iteration numbers (step size, penalty, bounds, ...; a method with bounds on the optimal cost names them
   ``lower_bound`` and ``upper_bound``, the columns the report draws, and a method with phases names its
   phase ``phase``); the loop then evaluates the current decisions
   x_i^k of all agents: total cost  sum_i f_i(x_i^k),  coupling left-hand sides  sum_i h_i(x_i^k)  (sums in
   the fixed agent order), the coupling violation (absolute, and relative to each resource's peak
   |right-hand side|), and, when a reference run is given, the relative cost gap and the relative distance of
   the decisions; hooks see each record (progress display, logging, checkpoint);
3. it stops at ``max_iterations`` (:class:`~ecodec.decomposition.stopping.StoppingRules`), when interrupted
   (Ctrl-C keeps what was computed), when the method abandons (``driver.abandoned``: no feasible point), or when
   one of the stopping rules the method declares (``driver.spec.stopping``, :mod:`ecodec.decomposition.stopping`)
   says it has converged; the loop has no other knowledge of the methods;
4. ``driver.finish()`` lets a method post-process (the mixed-integer recovery of primal decomposition);
   the final decisions become a :class:`~ecodec.results.RunResult` with the whole history.

The per-iteration KPIs come from :mod:`ecodec.results.kpi`, the same functions the comparison and the report
use.  Every driver runs on every runtime, in one process and on MPI ranks, with the same iterates: the rules a
driver follows for that are in docs/decomposition.md ("Runtimes"), and tests/test_mpi.py checks each driver.
"""

from __future__ import annotations

import logging
import time
from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, ClassVar

import numpy as np
import pandas as pd

from ecodec.decomposition.hooks import Hook
from ecodec.decomposition.options import MethodOptions
from ecodec.decomposition.stopping import LoopState, StoppingRules
from ecodec.problem.coupled import CoupledProblem
from ecodec.results import kpi
from ecodec.results.run_result import AgentOutcome, RunResult, utc_timestamp
from ecodec.solvers.compiled import CompiledSubproblem
from ecodec.versions import software_versions
from ecodec.vocabulary import INFEASIBLE, INTERRUPTED, ITERATION_LIMIT

if TYPE_CHECKING:
    from ecodec.decomposition.registry import MethodSpec

log = logging.getLogger(__name__)


class Driver(ABC):
    """One distributed method; see the module docstring.  A subclass is registered with
    :func:`~ecodec.decomposition.registry.register`, which sets ``spec``: its name, options type, history columns
    and stopping rules."""

    spec: ClassVar[MethodSpec]

    def __init__(self, problem: CoupledProblem, runtime, options: MethodOptions):
        self.problem = problem
        self.runtime = runtime
        self.options = options
        self.subproblems: dict[str, CompiledSubproblem] = {}
        self.decisions: dict[str, np.ndarray] = {}
        self.warnings: list[str] = []
        self.abandoned: str | None = None  # set by setup() when the method cannot run on this problem: why
        self.label = self.spec.name  # the name of its runs (a preset variant such as 'tightening-constant')

    @abstractmethod
    def setup(self) -> None:
        """Compile the local subproblems of the agents this runtime hosts and initialise their state."""

    @abstractmethod
    def iterate(self, k: int) -> dict[str, float]:
        """Advance every local agent by one iteration; set ``self.decisions``; return per-iteration numbers."""

    def finish(self) -> dict[str, object]:
        """Post-process after the last iteration (may change ``self.decisions``); returns facts for ``info``."""
        return {}

    def prices(self) -> np.ndarray | None:
        """Coupling prices (currency per unit and hour), shape (resources, T), when the method estimates them."""
        return None

    def make_evaluator(self, reference: RunResult | None):
        """What evaluates the decisions after each iteration (cost, violation, distance to ``reference``)."""
        return _Evaluator(self.problem, self.runtime, reference)

    def outcome(self, name: str) -> AgentOutcome:
        """Agent ``name``'s final decisions as plain data for the result."""
        return AgentOutcome.of(self.subproblems[name], self.decisions[name])


class _Evaluator:
    """Cost, coupling residuals and distances of the current decisions, reduced over all agents."""

    def __init__(self, problem: CoupledProblem, runtime, reference: RunResult | None):
        self.problem = problem
        self.runtime = runtime
        self.lower = np.stack([r.lower() for r in problem.resources])
        self.upper = np.stack([r.upper() for r in problem.resources])
        self.scale = kpi.resource_scale(self.lower, self.upper)
        self.reference = reference
        self.reference_objective = reference.objective if reference is not None and reference.has_solution else None
        self._reference_outputs: dict[str, np.ndarray] = {}

    def reference_outputs(self, sub: CompiledSubproblem) -> np.ndarray | None:
        if self.reference is None or not self.reference.has_solution:
            return None
        if sub.agent_name not in self._reference_outputs:
            self._reference_outputs[sub.agent_name] = kpi.agent_output_matrix(
                self.reference.dispatch, sub.agent_name, [o.quantity for o in sub.outputs], sub.T)
        return self._reference_outputs[sub.agent_name]

    def evaluate(self, subproblems: dict[str, CompiledSubproblem], decisions: dict[str, np.ndarray]) -> dict:
        def local(name):
            sub, x = subproblems[name], decisions[name]
            ref = self.reference_outputs(sub)
            dist = (0.0, 0.0)
            if ref is not None:
                dist = (float(np.sum((sub.output_values(x) - ref) ** 2)), float(np.sum(ref ** 2)))
            return np.concatenate([[sub.cost(x)], dist, sub.contribution(x).ravel()])

        total = self.runtime.sum(self.runtime.each(local))
        lhs = total[3:].reshape(self.lower.shape)
        residual = kpi.residuals(lhs, self.lower, self.upper)
        record = {"objective": float(total[0]),
                  "max_violation": float(np.max(np.abs(residual))),
                  "rel_violation": kpi.relative_violation(residual, self.scale)}
        if self.reference_objective is not None:
            record["cost_gap"] = kpi.relative_cost_gap(record["objective"], self.reference_objective)
            record["distance"] = float(np.sqrt(total[1] / total[2])) if total[2] > 0 else float(np.sqrt(total[1]))
        return record


def run_driver(driver: Driver, stopping: StoppingRules, hooks: list[Hook] | None = None,
               reference: RunResult | None = None) -> RunResult | None:
    """Run ``driver`` under the shared loop; see the module docstring.  Returns the RunResult on the root process
    and None on the other processes of a multi-process runtime (every process must call it)."""
    hooks = hooks or []
    problem, runtime = driver.problem, driver.runtime
    started, started_at = time.perf_counter(), utc_timestamp()
    driver.setup()
    setup_time = time.perf_counter() - started
    evaluator = driver.make_evaluator(reference)
    for hook in hooks:
        hook.on_start(driver.label, problem, stopping)
    history: list[dict] = []
    rules = driver.spec.stopping
    state = LoopState(driver, history, stopping, evaluator.reference_objective is not None)
    status, message = ITERATION_LIMIT, f"stopped at the iteration limit ({stopping.max_iterations})"
    if driver.abandoned is not None:  # e.g. a tightened problem without a feasible point: nothing to iterate
        result = _result(driver, history, INFEASIBLE, driver.abandoned, setup_time, time.perf_counter() - started,
                         {"started_at": started_at, "stopping": stopping.as_dict()})
        if result is not None:
            for hook in hooks:
                hook.on_finish(result)
        return result
    try:
        for k in range(stopping.max_iterations):
            if runtime.checkpoint(k):  # another process of the run was interrupted: every process stops here
                raise KeyboardInterrupt
            tick = time.perf_counter()
            record = {"iteration": k + 1}
            record.update(driver.iterate(k))
            record["iteration_time_s"] = time.perf_counter() - tick
            record.update(evaluator.evaluate(driver.subproblems, driver.decisions))
            record["messages"] = runtime.messages
            record["elapsed_s"] = time.perf_counter() - started
            history.append(record)
            for hook in hooks:
                hook.on_iteration(record)
            if driver.abandoned is not None:  # the method found mid-run that it cannot go on (no feasible point)
                status, message = INFEASIBLE, driver.abandoned
                break
            done = next(((rule, said) for rule, said in ((r, r.reached(state)) for r in rules) if said), None)
            if done:
                status, message = done[0].status, done[1]
                break
    except KeyboardInterrupt:
        status = INTERRUPTED
        message = f"interrupted by the user after {len(history)} iterations; the history so far is kept"
        log.warning(message)
    final = driver.finish() if history else {}
    final = {"started_at": started_at, "stopping": stopping.as_dict(), **final}
    result = _result(driver, history, status, message, setup_time, time.perf_counter() - started, final)
    if result is not None:
        for hook in hooks:
            hook.on_finish(result)
    return result


def _result(driver: Driver, history: list[dict], status: str, message: str, setup_time: float, wall: float,
            final: dict) -> RunResult | None:
    problem, runtime = driver.problem, driver.runtime
    decided = bool(history)  # the same on every process: decisions exist once an iteration has run
    outcomes = runtime.gather(runtime.each(driver.outcome)) if decided else {}
    prices = driver.prices() if decided else None
    messages, floats = runtime.totals()
    if not runtime.is_root:
        return None
    info = {
        "n_agents": len(problem.agents), "iterations": len(history), "message": message,
        "messages": messages, "floats_sent": floats, "runtime": runtime.name,
        "network": runtime.network.describe(), "setup_time_s": setup_time, "wall_time_s": wall,
        "problem_class": problem.problem_class,
        "options": driver.options.as_dict(), "versions": software_versions(),
        "warnings": list(driver.warnings),
    }
    info.update(final)
    history_frame = pd.DataFrame(history)
    if not outcomes:
        return RunResult.empty(driver.label, problem, status, info, history_frame)
    return RunResult.from_agent_outcomes(driver.label, problem, status, info, history_frame, outcomes, prices)

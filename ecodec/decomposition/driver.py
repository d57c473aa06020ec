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
   the fixed agent order), the coupling violation (absolute, and relative to each resource's scale: its peak
   |right-hand side|, or the reach of a balance whose right-hand side is 0,
   :meth:`~ecodec.problem.coupled.CoupledProblem.violation_scales`), and, when a reference run is given, the relative cost gap and the relative distance of
   the decisions; hooks see each record (progress display, logging, checkpoint);
3. it stops at ``max_iterations`` (:class:`~ecodec.decomposition.stopping.StoppingRules`), when interrupted
   (Ctrl-C keeps what was computed), when the method abandons (``driver.abandoned``: no feasible point), or when
   one of the stopping rules the method declares (``driver.spec.stopping``, :mod:`ecodec.decomposition.stopping`)
   says it has converged; the loop has no other knowledge of the methods;
4. ``driver.finish()`` lets a method post-process (the mixed-integer recovery of primal decomposition);
   the final decisions become a :class:`~ecodec.results.RunResult` with the whole history.

Ctrl-C in one process (the in-process runtime) only asks the loop to stop after the current iteration, as the
MPI runtime does (a second Ctrl-C stops at once): the run then ends at an iteration boundary, where its state is
whole and can be checkpointed.  With a :class:`~ecodec.decomposition.checkpoint.StateCheckpoint` the loop
writes the method's state now and then and when it ends, and a run given a saved state runs ``setup()``, puts
the state back, asks the stopping rules about the last saved iteration and goes on from the next one, to the
iterates of a run that was never stopped (docs/decomposition.md, "Resuming a run").  What a method keeps is
declared once: ``state_attributes`` on the driver and on its agent class (:mod:`ecodec.decomposition.state`).

The per-iteration KPIs come from :mod:`ecodec.results.kpi`, the same functions the comparison and the report
use.  Every driver runs on every runtime, in one process and on MPI ranks, with the same iterates: the rules a
driver follows for that are in docs/decomposition.md ("Runtimes"), and tests/test_mpi.py checks each driver.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from abc import ABC, abstractmethod
from contextlib import contextmanager
from typing import TYPE_CHECKING, ClassVar

import numpy as np
import pandas as pd

from ecodec.decomposition.checkpoint import StateCheckpoint
from ecodec.decomposition.hooks import Hook
from ecodec.decomposition.options import MethodOptions
from ecodec.decomposition.state import apply, capture
from ecodec.decomposition.stopping import LoopState, StoppingRules
from ecodec.problem.coupled import CoupledProblem
from ecodec.results import kpi
from ecodec.results.run_result import AgentOutcome, RunResult, utc_timestamp
from ecodec.solvers.compiled import CompiledSubproblem
from ecodec.solvers.shared_layout import SubproblemCompiler
from ecodec.versions import machine_facts, software_versions
from ecodec.vocabulary import INFEASIBLE, INTERRUPTED, ITERATION_LIMIT

if TYPE_CHECKING:
    from ecodec.decomposition.registry import MethodSpec

log = logging.getLogger(__name__)


class Driver(ABC):
    """One distributed method; see the module docstring.  A subclass is registered with
    :func:`~ecodec.decomposition.registry.register`, which sets ``spec``: its name, options type, history columns
    and stopping rules."""

    spec: ClassVar[MethodSpec]
    #: The method-wide attributes a checkpoint keeps (:mod:`ecodec.decomposition.state`); None: the method keeps
    #: no state and cannot resume.  Its agents, the objects of ``self.local``, declare theirs on their class.
    state_attributes: ClassVar[tuple[str, ...] | None] = None

    def __init__(self, problem: CoupledProblem, runtime, options: MethodOptions):
        self.problem = problem
        self.runtime = runtime
        self.options = options
        self.subproblems: dict[str, CompiledSubproblem] = {}
        self._compiler: SubproblemCompiler | None = None  # made at the first compile_subproblem
        self.decisions: dict[str, np.ndarray] = {}
        self.warnings: list[str] = []
        self.abandoned: str | None = None  # set by setup() when the method cannot run on this problem: why
        self.label = self.spec.name  # the name of its runs (a preset variant such as 'tightening-constant')

    @abstractmethod
    def setup(self) -> None:
        """Compile the local subproblems of the agents this runtime hosts and initialise their state."""

    def compile_subproblem(self, name: str, mip_rel_gap: float = 1e-6) -> CompiledSubproblem:
        """Agent ``name``'s compiled subproblem, kept in ``subproblems``; agents of one structure hosted here share
        one layout (:mod:`ecodec.solvers.shared_layout`)."""
        if self._compiler is None:
            self._compiler = SubproblemCompiler(self.problem, self.runtime.local_agents, mip_rel_gap=mip_rel_gap)
        sub = self.subproblems[name] = self._compiler(name)
        return sub

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

    # -- the state a checkpoint keeps (module docstring) ------------------------------------------------------
    @classmethod
    def resumable(cls) -> bool:
        """Whether the method declares its state (and so can resume)."""
        return cls.state_attributes is not None

    def agent_state(self, name: str) -> dict[str, object]:
        """Hosted agent ``name``'s state: its declared attributes, its decisions and its program's snapshot."""
        agent = self.local[name]
        program = getattr(self.subproblems.get(name), "program", None)
        decision = self.decisions.get(name)
        return {"attributes": capture(agent, type(agent).state_attributes),
                "decision": None if decision is None else np.array(decision),
                "program": program.snapshot() if program is not None else None}

    def restore_agent(self, name: str, state: dict[str, object]) -> None:
        """Put :meth:`agent_state` back into hosted agent ``name`` (after ``setup()``)."""
        agent = self.local[name]
        if hasattr(agent, "restore_structure"):
            agent.restore_structure(state["attributes"])
        apply(agent, state["attributes"])
        if state["program"] is not None:
            self.subproblems[name].program.restore(state["program"])
        if state["decision"] is not None:
            self.decisions[name] = state["decision"]

    def shared_state(self) -> dict[str, object]:
        """The method-wide state (the same on every process): the declared attributes, warnings, abandoned."""
        return capture(self, ("warnings", "abandoned", *(self.state_attributes or ())))

    def restore_shared(self, state: dict[str, object]) -> None:
        """Put :meth:`shared_state` back (on every process: the method-wide state is the same everywhere)."""
        apply(self, state)


class _Evaluator:
    """Cost, coupling residuals and distances of the current decisions, reduced over all agents."""

    def __init__(self, problem: CoupledProblem, runtime, reference: RunResult | None):
        self.problem = problem
        self.runtime = runtime
        self.lower = np.stack([r.lower() for r in problem.resources])
        self.upper = np.stack([r.upper() for r in problem.resources])
        self.scale = np.asarray(problem.violation_scales(), dtype=float)  # peak |rhs|, or the reach of a balance
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
               reference: RunResult | None = None, checkpoint: StateCheckpoint | None = None) -> RunResult | None:
    """Run ``driver`` under the shared loop; see the module docstring.  Returns the RunResult on the root process
    and None on the other processes of a multi-process runtime (every process must call it).  ``checkpoint``
    writes the method's state, and resumes from a saved one when it holds one."""
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
    facts = {"started_at": started_at, "stopping": stopping.as_dict()}
    if driver.abandoned is not None:  # e.g. a tightened problem without a feasible point: nothing to iterate
        result = _result(driver, history, INFEASIBLE, driver.abandoned, setup_time, time.perf_counter() - started,
                         facts)
        if result is not None:
            for hook in hooks:
                hook.on_finish(result)
        return result
    if checkpoint is not None and checkpoint.resuming:
        history.extend(checkpoint.restore(driver))
        facts["resumed_after_iteration"] = len(history)
        started -= float(history[-1].get("elapsed_s", 0.0)) if history else 0.0  # elapsed_s goes on from there
        for hook in hooks:
            hook.on_resume(history)
    whole = True  # the driver's state is that of an iteration boundary (false while an iteration runs)
    try:
        with _interrupts_between_iterations() as asked:
            verdict = _verdict(driver, rules, state) if history else None
            for k in range(len(history), stopping.max_iterations if verdict is None else 0):
                if runtime.checkpoint(k) or asked():  # Ctrl-C here, or on another process: every process stops
                    raise KeyboardInterrupt
                whole = False
                tick = time.perf_counter()
                record = {"iteration": k + 1}
                record.update(driver.iterate(k))
                record["iteration_time_s"] = time.perf_counter() - tick
                record.update(evaluator.evaluate(driver.subproblems, driver.decisions))
                record["messages"] = runtime.messages
                record["elapsed_s"] = time.perf_counter() - started
                history.append(record)
                whole = True
                for hook in hooks:
                    hook.on_iteration(record)
                if checkpoint is not None and checkpoint.due(driver, len(history)):
                    checkpoint.save(driver, history)
                verdict = _verdict(driver, rules, state)
                if verdict is not None:
                    break
            if verdict is not None:
                status, message = verdict
    except KeyboardInterrupt:
        status = INTERRUPTED
        message = f"interrupted by the user after {len(history)} iterations; the history so far is kept"
        log.warning(message)
    if checkpoint is not None and whole and history:  # before finish(), which may change the decisions
        checkpoint.save(driver, history)
    final = driver.finish() if history else {}
    result = _result(driver, history, status, message, setup_time, time.perf_counter() - started, {**facts, **final})
    if result is not None:
        for hook in hooks:
            hook.on_finish(result)
    return result


def _verdict(driver: Driver, rules, state: LoopState) -> tuple[str, str] | None:
    """After an iteration: (status, message) when the method abandoned or one of its rules stops the run."""
    if driver.abandoned is not None:  # the method found mid-run that it cannot go on (no feasible point)
        return INFEASIBLE, driver.abandoned
    done = next(((rule, said) for rule, said in ((r, r.reached(state)) for r in rules) if said), None)
    return (done[0].status, done[1]) if done else None


@contextmanager
def _interrupts_between_iterations():
    """In one process, Ctrl-C asks the loop to stop after the current iteration (the function yielded says
    whether it was asked); a second Ctrl-C stops at once.  Left alone where SIGINT is not Python's default (an
    MPI rank, whose runtime does the same across ranks; a caller's own handler) or off the main thread."""
    if (threading.current_thread() is not threading.main_thread()
            or signal.getsignal(signal.SIGINT) is not signal.default_int_handler):
        yield lambda: False
        return
    asked: list[bool] = []

    def on_interrupt(signum, frame):
        if asked:
            raise KeyboardInterrupt
        asked.append(True)
        log.warning("interrupt received; the run stops after the current iteration (again to stop at once)")

    previous = signal.signal(signal.SIGINT, on_interrupt)
    try:
        yield lambda: bool(asked)
    finally:
        signal.signal(signal.SIGINT, previous)


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
        "options": driver.options.as_dict(), "versions": software_versions(), "machine": machine_facts(),
        "warnings": list(driver.warnings),
    }
    if isinstance(problem, CoupledProblem):  # what rel_violation was measured against, for the saved results
        info["violation_scales"] = problem.violation_scales_by_name()
    info.update(final)
    history_frame = pd.DataFrame(history)
    if not outcomes:
        return RunResult.empty(driver.label, problem, status, info, history_frame)
    return RunResult.from_agent_outcomes(driver.label, problem, status, info, history_frame, outcomes, prices)

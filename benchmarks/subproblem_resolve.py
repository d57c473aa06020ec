"""Benchmark (a): time to re-solve one agent's primal-decomposition subproblem when only its allocation changes.

Workload (what :mod:`ecodec.decomposition.primal_decomposition` does per iteration and agent): the agent's local
LP with penalty columns rho >= 0 (cost M each) and the allocation rows

    G_i x - E rho <= y - g0_i        (every coupling row)
    G_i x + E rho >= y - g0_i        (equality rows)

(rho one scalar with E a column of ones, or one column per row with E the identity: M and that choice are the
driver's default options ``penalty`` and ``relaxation``, so the benchmark follows the driver as it is tuned),
re-solved for a sequence of allocations y: the allocation primal decomposition converges to (the agent's row
values s_k h_i(x_i*) at the centralized optimum x*) plus seeded Gaussian noise with a standard deviation of a few
percent of the peak active-power load, a fresh draw per solve, on the rows the agent's decisions move.  So every
solve moves the agent's operating point (the dual simplex pivots from the previous basis) as late iterations do.
Between solves only the right-hand sides of the allocation rows change.

Paths, all on the same sequence:

* ``compiled``: the agent's :class:`~ecodec.solvers.compiled.CompiledSubproblem`, rows appended once with
  ``MatrixProblem.add_columns`` / ``add_rows``, then ``set_row_bounds`` (one call for all allocation rows, both
  bounds as arrays, as the driver does) and ``solve()`` per allocation (``solve()`` returns the primal values and the row duals as arrays);
* ``bare``: a plain ``highspy.Highs`` loaded with the very LP of the compiled program (``getLp()``), then
  ``changeRowsBounds`` (bounds precomputed) + ``run()`` + ``getSolution()`` (reading the
  primal values and row duals) + ``getObjectiveValue()``: the floor for any wrapper around HiGHS;
* ``rebuild``: the local Pyomo model built from scratch (``CoupledProblem.local_model`` + the allocation rows as
  Pyomo constraints) and solved with :func:`ecodec.solvers.highs.solve_with_highs`, per allocation;
* ``persistent``: Pyomo's persistent HiGHS interface keeping that model, the allocations as mutable Params;
  auto-updates are limited to parameters (the best case for this interface).

Each timed repeat first re-solves ``warmup`` allocations (untimed), then times the sequence as a whole; the
reported time per solve is the median over the repeats of (repeat time / solves).  The compiled and bare repeats
alternate, and their ratio is the median of the ratios of adjacent repeats.  Every path must reach the
compiled path's objective on every solve to 1e-7 (relative; absolute below 1), else the comparison is void.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import highspy
import numpy as np
import pyomo.environ as pyo
import scipy.sparse as sp
from pyomo.contrib.solver.solvers.highs import Highs as PersistentHighs

from ecodec.carriers import ACTIVE_POWER
from ecodec.decomposition.coupling_rows import CouplingRows
from ecodec.decomposition.priced_agent import agreed_price_scale, multiplier_scale
from ecodec.decomposition.primal_decomposition import PrimalDecompositionOptions
from ecodec.problem.coupled import CoupledProblem
from ecodec.solvers.compiled import CompiledSubproblem
from ecodec.solvers.highs import solve_with_highs

OBJECTIVE_RTOL = 1e-7


@dataclass(frozen=True)
class ResolveSettings:
    """Solves per timed repeat and repeats per path; ``perturbation``: the noise's standard deviation as a
    fraction of the peak active-power load; ``seed``: with the agent's position, seeds the noise."""

    solves: int = 200
    warmup: int = 5
    repeats: int = 15
    rebuild_solves: int = 20
    rebuild_repeats: int = 3
    persistent_solves: int = 50
    persistent_repeats: int = 3
    perturbation: float = 0.03
    seed: int = 2024


@dataclass
class ResolveResult:
    """Median ms per solve of each path (None: path unavailable) and every repeat's ms per solve, each path's
    worst objective mismatch with the compiled path (the compiled path's own entry compares its repeats), and the
    simplex iterations per solve of the compiled and bare paths (equal when HiGHS did the same work on both).

    ``compiled_over_bare`` is the median over the repeats of compiled / bare, each compiled repeat paired with
    the bare repeat run right after it, so that load changes on a shared machine cancel out of the ratio."""

    agent: str
    kind: str
    columns: int
    rows: int
    ms_per_solve: dict[str, float | None]
    repeat_ms: dict[str, list[float]]
    compiled_over_bare: float
    max_rel_objective_diff: dict[str, float] = field(default_factory=dict)
    simplex_iterations_per_solve: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def objectives_agree(self) -> bool:
        return all(diff <= OBJECTIVE_RTOL for diff in self.max_rel_objective_diff.values())

    def ratio(self, numerator: str, denominator: str) -> float | None:
        """Ratio of the two paths' median ms per solve (None when one was not measured)."""
        a, b = self.ms_per_solve.get(numerator), self.ms_per_solve.get(denominator)
        return None if a is None or b is None else a / b


def relative_difference(a: np.ndarray, b: np.ndarray) -> float:
    """max_k |a_k - b_k| / max(1, |a_k|, |b_k|)."""
    a, b = np.broadcast_arrays(np.asarray(a, dtype=float), np.asarray(b, dtype=float))
    return float(np.max(np.abs(a - b) / np.maximum(1.0, np.maximum(np.abs(a), np.abs(b)))))


@dataclass(frozen=True)
class Relaxation:
    """Price M of the relaxation columns rho and whether there is one per coupling row (else one scalar)."""

    penalty: float
    per_row: bool

    @classmethod
    def driver_default(cls, problem: CoupledProblem) -> Relaxation:
        """As primal decomposition's default options set it on ``problem``: M = penalty_factor x the largest
        multiplier scale over the agents (the driver takes the same maximum by a max-consensus)."""
        options = PrimalDecompositionOptions()
        if options.relaxation not in ("scalar", "per-row"):
            raise RuntimeError(f"the benchmark knows the relaxations 'scalar' and 'per-row', not "
                               f"{options.relaxation!r}: update benchmarks/subproblem_resolve.py")
        rows = CouplingRows.from_problem(problem)
        scales = []
        for agent in problem.agents:
            sub = CompiledSubproblem(problem, agent.name)
            scales.append(multiplier_scale(sub, rows.local_rows(sub)[0]))
        return cls(options.penalty_factor * agreed_price_scale(np.max(scales, axis=0)),
                   options.relaxation == "per-row")

    def columns(self, rows: CouplingRows) -> int:
        return rows.size if self.per_row else 1


class CompiledPath:
    """The compiled subproblem with the primal-decomposition relaxation columns and allocation rows appended."""

    def __init__(self, problem: CoupledProblem, agent: str, rows: CouplingRows, relaxation: Relaxation):
        self.sub = CompiledSubproblem(problem, agent)
        program = self.sub.program
        g, self.g0 = rows.local_rows(self.sub)
        self.eq = np.flatnonzero(rows.equality)
        self.moved = np.diff(g.indptr) > 0  # rows the agent's decisions move
        k = relaxation.columns(rows)
        program.add_columns(np.full(k, relaxation.penalty), np.zeros(k), np.full(k, np.inf))
        e = sp.eye_array(rows.size, format="csr") if relaxation.per_row else sp.csr_array(np.ones((rows.size, 1)))
        self.upper_rows = program.add_rows(sp.hstack([g, -e], format="csr"), np.full(rows.size, -np.inf),
                                           np.full(rows.size, np.inf))
        self.lower_rows = program.add_rows(sp.hstack([g[self.eq], e[self.eq]], format="csr"),
                                           np.full(self.eq.size, -np.inf), np.full(self.eq.size, np.inf))
        self.allocation_rows = np.concatenate([self.upper_rows, self.lower_rows])
        self._lower = np.full(self.allocation_rows.size, -np.inf)
        self._upper = np.full(self.allocation_rows.size, np.inf)

    def run(self, rhs_sequence: np.ndarray) -> np.ndarray:
        """Re-solve for every right-hand side y - g0 of the sequence, the bounds of all allocation rows set in
        one call as the driver sets them; returns the objectives."""
        program, lower, upper, p = self.sub.program, self._lower, self._upper, self.upper_rows.size
        objectives = np.empty(len(rhs_sequence))
        for k, rhs in enumerate(rhs_sequence):
            upper[:p] = rhs
            lower[p:] = rhs[self.eq]
            program.set_row_bounds(self.allocation_rows, lower, upper)
            solution = program.solve()
            if solution.row_dual is None:
                raise RuntimeError(f"compiled path: {self.sub.agent_name} ended {solution.status} at solve {k}")
            objectives[k] = solution.objective
        return objectives


class BarePath:
    """A plain highspy.Highs holding the compiled program's LP, driven by changeRowsBounds + run()."""

    def __init__(self, compiled: CompiledPath):
        # The LP exactly as the compiled program holds it (private attribute read on purpose: same matrices).
        lp = compiled.sub.program._h.getLp()
        self.highs = highspy.Highs()
        self.highs.setOptionValue("output_flag", False)
        self.highs.setOptionValue("threads", 1)  # HiGHS's options as the compiled program sets them
        highspy.Highs.resetGlobalScheduler(True)  # the next run starts HiGHS's shared scheduler on that one thread
        if self.highs.passModel(lp) == highspy.HighsStatus.kError:
            raise RuntimeError("bare path: HiGHS refused the compiled LP")
        self.rows = compiled.allocation_rows.astype(np.int32)
        self.n_upper = compiled.upper_rows.size
        self.eq = compiled.eq

    def bounds(self, rhs_sequence: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        """Per solve, the (lower, upper) bounds of all allocation rows, computed before the timed loop."""
        inf = highspy.kHighsInf
        return [(np.concatenate([np.full(self.n_upper, -inf), rhs[self.eq]]),
                 np.concatenate([rhs, np.full(self.eq.size, inf)])) for rhs in rhs_sequence]

    def run(self, bounds: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
        highs, rows, n = self.highs, self.rows, self.rows.size
        optimal = highspy.HighsModelStatus.kOptimal
        objectives = np.empty(len(bounds))
        for k, (lower, upper) in enumerate(bounds):
            highs.changeRowsBounds(n, rows, lower, upper)
            highs.run()
            solution = highs.getSolution()
            _ = solution.col_value, solution.row_dual  # read them, as any user of the solve must
            objectives[k] = highs.getObjectiveValue()
        if highs.getModelStatus() != optimal:
            raise RuntimeError(f"bare path: HiGHS ended {highs.modelStatusToString(highs.getModelStatus())}")
        return objectives


def relaxed_local_model(problem: CoupledProblem, agent: str, rows: CouplingRows, relaxation: Relaxation,
                        allocation: np.ndarray, *, mutable: bool) -> pyo.ConcreteModel:
    """The same relaxed local problem written in Pyomo: local model, rho, allocation rows on Param ``m.y``."""
    built = problem.local_model(problem.agent(agent))
    m, terms = built.model, built.terms[agent]
    names = [r.name for r in problem.resources]

    def row_value(k: int):
        exprs = terms.contributions.get(names[rows.resource[k]])
        return 0.0 if exprs is None else float(rows.sign[k]) * exprs[rows.step[k]]

    m.y = pyo.Param(range(rows.size), mutable=mutable, initialize=dict(enumerate(map(float, allocation))))
    m.rho = pyo.Var(range(relaxation.columns(rows)), within=pyo.NonNegativeReals)
    m.objective.deactivate()
    m.relaxed_objective = pyo.Objective(expr=terms.cost + relaxation.penalty * pyo.quicksum(m.rho.values()),
                                        sense=pyo.minimize)

    def rho(k: int):
        return m.rho[k if relaxation.per_row else 0]

    m.allocation_upper = pyo.Constraint(range(rows.size), rule=lambda m, k: row_value(k) - rho(k) <= m.y[k])
    m.allocation_lower = pyo.Constraint([int(k) for k in np.flatnonzero(rows.equality)],
                                        rule=lambda m, k: row_value(k) + rho(k) >= m.y[k])
    return m


def rebuild_run(problem: CoupledProblem, agent: str, rows: CouplingRows, relaxation: Relaxation,
                allocations: np.ndarray) -> np.ndarray:
    """Build the Pyomo model from scratch and solve it with solve_with_highs, per allocation."""
    objectives = np.empty(len(allocations))
    for k, y in enumerate(allocations):
        outcome = solve_with_highs(relaxed_local_model(problem, agent, rows, relaxation, y, mutable=False))
        if not outcome.has_solution:
            raise RuntimeError(f"rebuild path: {agent} ended {outcome.status} at solve {k}")
        objectives[k] = outcome.objective
    return objectives


class PersistentPath:
    """Pyomo's persistent HiGHS interface on the relaxed model; allocations change through mutable Params."""

    def __init__(self, problem: CoupledProblem, agent: str, rows: CouplingRows, relaxation: Relaxation,
                 allocation: np.ndarray):
        self.model = relaxed_local_model(problem, agent, rows, relaxation, allocation, mutable=True)
        self.solver = PersistentHighs()
        if not self.solver.available():
            raise RuntimeError("Pyomo's persistent HiGHS interface is not available")
        updates = self.solver.config.auto_updates
        for option in ("check_for_new_or_removed_constraints", "check_for_new_or_removed_vars",
                       "check_for_new_or_removed_params", "check_for_new_objective", "update_constraints",
                       "update_vars", "update_named_expressions", "update_objective"):
            setattr(updates, option, False)
        self.duals_of = list(self.model.allocation_upper.values()) + list(self.model.allocation_lower.values())

    def run(self, allocations: np.ndarray) -> np.ndarray:
        m, keys = self.model, range(allocations.shape[1])
        objectives = np.empty(len(allocations))
        for k, y in enumerate(allocations):
            m.y.store_values(dict(zip(keys, y.tolist())))
            results = self.solver.solve(m, raise_exception_on_nonoptimal_result=False)
            if results.incumbent_objective is None:
                raise RuntimeError(f"persistent path: ended {results.termination_condition} at solve {k}")
            results.solution_loader.get_duals(self.duals_of)
            objectives[k] = results.incumbent_objective
        return objectives


def simplex_iterations(highs: highspy.Highs, run: Callable[[Any], np.ndarray], sequence: Any) -> float:
    """Mean simplex iterations per solve of ``run`` over ``sequence``, solved one item at a time (untimed)."""
    total = 0
    for k in range(len(sequence)):
        run(sequence[k:k + 1])
        total += highs.getInfo().simplex_iteration_count
    return total / len(sequence)


def time_once(run: Callable[[Any], np.ndarray], warmup: Any, timed: Any, solves: int) -> tuple[float, np.ndarray]:
    """``run(warmup)`` untimed, then ``run(timed)`` timed: (ms per solve, objectives of the timed solves)."""
    run(warmup)
    started = time.perf_counter()
    objectives = run(timed)
    return (time.perf_counter() - started) / solves * 1e3, objectives


def repeated(run: Callable[[Any], np.ndarray], warmup: Any, timed: Any, solves: int,
             repeats: int) -> tuple[list[float], np.ndarray]:
    """ms per solve of ``repeats`` calls of :func:`time_once`, and the objectives stacked by repeat."""
    measured = [time_once(run, warmup, timed, solves) for _ in range(repeats)]
    return [ms for ms, _ in measured], np.stack([objectives for _, objectives in measured])


def allocation_sequence(y: np.ndarray, moved: np.ndarray, peak: float, settings: ResolveSettings,
                        stream: int) -> np.ndarray:
    """``warmup + solves`` allocations: y plus N(0, (perturbation * peak)^2) on the rows the agent moves (the
    others stay at y), seeded by (seed, stream)."""
    rng = np.random.default_rng([settings.seed, stream])
    noise = rng.normal(0.0, settings.perturbation * peak, size=(settings.warmup + settings.solves, y.size))
    return y + noise * moved


def optimal_allocations(problem: CoupledProblem, rows: CouplingRows) -> dict[str, np.ndarray]:
    """Each agent's row values s_k h_i(x_i*) at the centralized optimum x*: the allocations y_i that primal
    decomposition converges to (with them every local problem is feasible with rho = 0)."""
    built = problem.centralized_model()
    outcome = solve_with_highs(built.model)
    if not outcome.has_solution:
        raise RuntimeError(f"the centralized solve of '{problem.name}' ended {outcome.status}")
    allocations = {}
    for agent in problem.agents:
        contributions = built.terms[agent.name].contributions
        h = np.array([[pyo.value(e) for e in contributions[r.name]] if r.name in contributions
                      else np.zeros(problem.grid.T) for r in problem.resources], dtype=float)
        allocations[agent.name] = rows.values(h)
    return allocations


def measure_agent(problem: CoupledProblem, agent: str, y: np.ndarray, relaxation: Relaxation,
                  settings: ResolveSettings, stream: int) -> ResolveResult:
    """Time the four paths on one agent's allocation sequence and check that they agree on every objective."""
    rows = CouplingRows.from_problem(problem)
    compiled = CompiledPath(problem, agent, rows, relaxation)
    peak = float(np.max(np.abs(problem.resource(ACTIVE_POWER).rhs)))
    allocations = allocation_sequence(y, compiled.moved, peak, settings, stream)
    warm, timed = allocations[: settings.warmup], allocations[settings.warmup:]
    bare = BarePath(compiled)
    warm_rhs, timed_rhs = warm - compiled.g0, timed - compiled.g0
    warm_bounds, timed_bounds = bare.bounds(warm_rhs), bare.bounds(timed_rhs)
    compiled_runs, bare_runs = [], []
    for _ in range(settings.repeats):  # interleaved, so that any drift of the machine hits both paths alike
        compiled_runs.append(time_once(compiled.run, warm_rhs, timed_rhs, settings.solves))
        bare_runs.append(time_once(bare.run, warm_bounds, timed_bounds, settings.solves))
    reference = compiled_runs[0][1]
    repeat_ms = {"compiled": [ms for ms, _ in compiled_runs], "bare": [ms for ms, _ in bare_runs]}
    result = ResolveResult(agent, problem.agent(agent).kind, compiled.sub.program.n_cols,
                           compiled.sub.program.n_rows, {path: statistics.median(ms) for path, ms in repeat_ms.items()},
                           repeat_ms, statistics.median(c / b for c, b in zip(repeat_ms["compiled"], repeat_ms["bare"])))
    for name, runs in (("compiled", compiled_runs[1:]), ("bare", bare_runs)):
        if runs:
            result.max_rel_objective_diff[name] = max(relative_difference(o, reference) for _, o in runs)
    result.simplex_iterations_per_solve = {
        "compiled": simplex_iterations(compiled.sub.program._h, compiled.run, timed_rhs),  # its HiGHS instance
        "bare": simplex_iterations(bare.highs, bare.run, timed_bounds)}
    n = settings.rebuild_solves
    ms, objectives = repeated(lambda a: rebuild_run(problem, agent, rows, relaxation, a), warm[:1], timed[:n], n,
                              settings.rebuild_repeats)
    result.repeat_ms["rebuild"], result.ms_per_solve["rebuild"] = ms, statistics.median(ms)
    result.max_rel_objective_diff["rebuild"] = relative_difference(objectives, reference[:n])
    try:
        persistent = PersistentPath(problem, agent, rows, relaxation, warm[0])
    except RuntimeError as exc:  # the interface is not available
        result.ms_per_solve["persistent"] = None
        result.notes.append(f"persistent path skipped: {exc}")
        return result
    n = settings.persistent_solves
    ms, objectives = repeated(persistent.run, warm, timed[:n], n, settings.persistent_repeats)
    result.repeat_ms["persistent"], result.ms_per_solve["persistent"] = ms, statistics.median(ms)
    result.max_rel_objective_diff["persistent"] = relative_difference(objectives, reference[:n])
    return result

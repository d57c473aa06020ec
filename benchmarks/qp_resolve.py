"""Benchmark (e): Tracking-ADMM's local QP step, re-solved on the compiled program (PIQP, ecodec's default, and
HiGHS's active-set QP solver) against a direct highspy QP rebuilt per solve.

Workload: agent i's step of :mod:`ecodec.decomposition.tracking_admm`, a QP with the Hessian A_i' A_i set once
and a linear cost that changes every iteration.  The cost vectors are those of a real run: the driver runs on the
case for ``warmup + solves`` iterations with its default options and the vectors it passes to the agent's program
are recorded.  Paths, on the same sequence:

* ``compiled``: the agent's program as the driver builds it with its default options (compiled subproblem, slack
  columns, Hessian; its QPs solved by PIQP), then ``set_costs`` + ``solve()`` per vector;
* ``compiled_highs``: the same with the option ``qp_solver = highs``: HiGHS's active-set QP solver on the
  agent's persistent instance;
* ``rebuild``: a new ``highspy.Highs`` per vector, loaded with the same LP (``passModel``, the vector as its
  cost) and Hessian (``passHessian``), with the same QP options, then ``run()`` + ``getSolution()``.

Each timed repeat first solves the ``warmup`` vectors (untimed), then times the rest; ms per solve is the median
over the repeats.  Every path must reach the same objective on every solve (relative 1e-6, the QP solvers'
tolerance), else the comparison is void.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass

import highspy
import numpy as np
from subproblem_resolve import repeated

from ecodec.decomposition.tracking_admm import TrackingAdmm, TrackingAdmmOptions
from ecodec.network import CommunicationNetwork
from ecodec.problem.coupled import CoupledProblem
from ecodec.runtime import InProcessRuntime
from ecodec.solvers.matrix import _QP_ITERATION_LIMIT, _QP_REGULARIZATION, MatrixProblem

OBJECTIVE_RTOL = 1e-6


@dataclass(frozen=True)
class QpResult:
    agent: str
    kind: str
    columns: int
    rows: int
    hessian_nonzeros: int
    ms_per_solve: dict[str, float]
    max_rel_objective_diff: float

    @property
    def rebuild_over_compiled(self) -> float:
        return self.ms_per_solve["rebuild"] / self.ms_per_solve["compiled"]

    @property
    def highs_over_compiled(self) -> float:
        return self.ms_per_solve["compiled_highs"] / self.ms_per_solve["compiled"]

    @property
    def objectives_agree(self) -> bool:
        return self.max_rel_objective_diff <= OBJECTIVE_RTOL


def recorded_costs(problem: CoupledProblem, network: CommunicationNetwork, agents: tuple[str, ...],
                   iterations: int) -> dict[str, list[np.ndarray]]:
    """The linear costs Tracking-ADMM passes to each agent's program over ``iterations`` iterations."""
    recorded: dict[str, list[np.ndarray]] = {a: [] for a in agents}
    original = MatrixProblem.set_costs
    names = {f"{problem.name}:{a}": a for a in agents}

    def record(self, columns, cost):
        agent = names.get(self.name)
        if agent is not None and np.size(columns) > 1:
            recorded[agent].append(np.array(cost, dtype=float))
        original(self, columns, cost)

    MatrixProblem.set_costs = record
    try:
        driver = TrackingAdmm(problem, InProcessRuntime(network), TrackingAdmmOptions())
        driver.setup()
        for k in range(iterations):
            driver.iterate(k)
    finally:
        MatrixProblem.set_costs = original
    return recorded


def _agent_program(problem: CoupledProblem, network: CommunicationNetwork, agent: str, qp_solver: str):
    """Agent ``agent``'s program and its number of QP columns, as Tracking-ADMM builds it with ``qp_solver``."""
    driver = TrackingAdmm(problem, InProcessRuntime(network), TrackingAdmmOptions(qp_solver=qp_solver))
    driver.setup()
    return driver.local[agent].sub.program, driver.local[agent].n, driver.local[agent].sub.kind


def measure_agent(problem: CoupledProblem, network: CommunicationNetwork, agent: str, costs: list[np.ndarray],
                  warmup: int, repeats: int) -> QpResult:
    programs = {path: _agent_program(problem, network, agent, solver)
                for path, solver in (("compiled", "piqp"), ("compiled_highs", "highs"))}
    program, n, kind = programs["compiled"]
    columns = np.arange(n)
    model = program._h.getModel()
    lp, hessian = model.lp_, model.hessian_
    solves = len(costs) - warmup

    def on_program(path):
        def solve_each(sequence):
            program = programs[path][0]
            out = []
            for cost in sequence:
                program.set_costs(columns, cost)
                out.append(program.solve().objective)
            return np.array(out)
        return solve_each

    def rebuild(sequence):
        out = []
        for cost in sequence:
            highs = highspy.Highs()
            highs.setOptionValue("output_flag", False)
            highs.setOptionValue("qp_regularization_value", _QP_REGULARIZATION[0])
            highs.setOptionValue("qp_iteration_limit", _QP_ITERATION_LIMIT)
            lp.col_cost_ = np.concatenate([cost, np.asarray(lp.col_cost_)[cost.size:]])
            highs.passModel(lp)
            highs.passHessian(hessian)
            highs.run()
            highs.getSolution()
            out.append(highs.getObjectiveValue())
        return np.array(out)

    times, objectives = {}, {}
    for name, run in (("compiled", on_program("compiled")), ("compiled_highs", on_program("compiled_highs")),
                      ("rebuild", rebuild)):
        measured, values = repeated(run, costs[:warmup], costs[warmup:], solves, repeats)
        times[name], objectives[name] = statistics.median(measured), values
    scale = np.maximum(np.abs(objectives["compiled"]), 1.0)
    diff = max(float(np.max(np.abs(objectives[name] - objectives["compiled"]) / scale))
               for name in ("compiled_highs", "rebuild"))
    return QpResult(agent, kind, program.n_cols, program.n_rows, len(hessian.index_), times, diff)


def qp_table(results: list[QpResult]) -> str:
    lines = ["| agent | kind | QP (cols x rows) | Hessian nonzeros | compiled, PIQP ms | compiled, HiGHS ms | "
             "direct highspy rebuild ms | HiGHS / PIQP | rebuild / PIQP | objectives agree (max rel. diff) |",
             "|---|---|---|---:|---:|---:|---:|---:|---:|---|"]
    for r in results:
        t = r.ms_per_solve
        lines.append(f"| {r.agent} | {r.kind} | {r.columns} x {r.rows} | {r.hessian_nonzeros} | "
                     f"{t['compiled']:.2f} | {t['compiled_highs']:.2f} | {t['rebuild']:.2f} | "
                     f"{r.highs_over_compiled:.2f} | {r.rebuild_over_compiled:.2f} | "
                     f"{'yes' if r.objectives_agree else 'NO'} ({r.max_rel_objective_diff:.1e}) |")
    return "\n".join(lines)

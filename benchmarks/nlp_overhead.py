"""Benchmark (f): where the time of an Ipopt solve through ecodec's bridge goes.

For each problem: the extraction (:class:`~ecodec.solvers.ipopt.PyomoNLP`: symbolic derivatives, compiled
callbacks; once per model), then the solve, split into the time spent in ecodec's callbacks (objective,
gradient, constraints, Jacobian, Hessian; timed inside the bridge) and the rest, spent inside Ipopt (its linear
algebra, line search, bookkeeping).  The baseline is the solve itself, measured in the same run: the figure of
merit is callbacks / solve.  Every solve must reach the problem's known optimum, else the timing is void.

Problems (:mod:`ecodec.solvers.reference_nlps`): Hock-Schittkowski 71 (4 variables); the extended Rosenbrock
function of n variables (optimum 0 at x = 1: a sparse NLP of any size); the shipped LP microgrid as one model
(its optimum from HiGHS, in the same run).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import pyomo.environ as pyo

from ecodec.decomposition.centralized import solve_centralized
from ecodec.io.workbook import read_case
from ecodec.problem.from_case import problem_from_case
from ecodec.solvers.ipopt import PyomoNLP, solve_with_ipopt
from ecodec.solvers.reference_nlps import KNOWN, extended_rosenbrock

OBJECTIVE_TOL = 1e-6


@dataclass(frozen=True)
class OverheadResult:
    problem: str
    variables: int
    constraints: int
    hessian_nonzeros: int
    extraction_s: float
    solve_s: float
    callback_s: float
    iterations: int
    objective: float
    optimum: float

    @property
    def callback_share(self) -> float:
        return self.callback_s / self.solve_s

    @property
    def reached(self) -> bool:
        return abs(self.objective - self.optimum) <= OBJECTIVE_TOL * max(1.0, abs(self.optimum))


def measure(name: str, model: pyo.ConcreteModel, optimum: float) -> OverheadResult:
    started = time.perf_counter()
    nlp = PyomoNLP(model)
    extraction = time.perf_counter() - started
    outcome = solve_with_ipopt(model, nlp=nlp, options={"tol": 1e-9})
    return OverheadResult(name, nlp.n, nlp.m, int(nlp.hessian_rows.size), extraction, outcome.solve_time_s,
                          outcome.callback_time_s, outcome.iterations,
                          float("nan") if outcome.objective is None else outcome.objective, optimum)


def measure_all(sizes: tuple[int, ...], case_path) -> list[OverheadResult]:
    build, optimum, _ = KNOWN["hs71"]
    results = [measure("Hock-Schittkowski 71", build(), optimum)]
    for n in sizes:
        results.append(measure(f"Rosenbrock n = {n}", extended_rosenbrock(n), 0.0))
    problem = problem_from_case(read_case(case_path))
    reference = solve_centralized(problem).objective
    results.append(measure(f"{problem.name} (LP)", problem.centralized_model().model, reference))
    return results


def overhead_table(results: list[OverheadResult]) -> str:
    lines = ["| problem | variables | constraints | Hessian nonzeros | extraction s | solve s "
             "| in ecodec's callbacks s | callbacks / solve | Ipopt iterations | optimum reached |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for r in results:
        lines.append(f"| {r.problem} | {r.variables} | {r.constraints} | {r.hessian_nonzeros} | {r.extraction_s:.3f} "
                     f"| {r.solve_s:.3f} | {r.callback_s:.3f} | {r.callback_share:.2f} | {r.iterations} | "
                     f"{'yes' if r.reached else 'NO'} ({r.objective:.8g}) |")
    return "\n".join(lines)

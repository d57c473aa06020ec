"""Benchmark (j): MACROPT per iteration on the deployment experiment (N = 100 agents, C = 2500 cells) against the
exact gradient of the whole model, which a central solver evaluates per L-BFGS-B iteration.

``cases/deployment_100.xlsx``; MACROPT with default options for ``iterations`` iterations, one process; its time
per iteration is the history's median ``iteration_time_s`` (every agent's kernel, its gradient step and the
consensus over C numbers per message; the evaluation is not in it).  Baseline in the same run: the median time of
``DeploymentProblem.gradient`` plus the divergence on all N agents at once (numpy, vectorized over agents and
cells), the work of one L-BFGS-B iteration.  The ratio is what running the agents one by one costs against one
vectorized evaluation of the same N x C kernels.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from pathlib import Path

from ecodec.decomposition import StoppingRules, options_for, run
from ecodec.io.workbook import read_case
from ecodec.network import network_from_case
from ecodec.problem import problem_from_case

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class DeploymentResult:
    agents: int
    cells: int
    iterations: int
    macropt_ms: float
    gradient_ms: float
    divergence_start: float
    divergence_end: float

    @property
    def ratio(self) -> float:
        return self.macropt_ms / self.gradient_ms


def measure(iterations: int, repeats: int = 20) -> DeploymentResult:
    case = read_case(ROOT / "cases" / "deployment_100.xlsx")
    problem, network = problem_from_case(case), network_from_case(case)
    x = problem.initial_positions()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        kernels = problem.kernels(x)
        problem.divergence(kernels.mean(axis=0))
        problem.gradient(x, kernels)
        times.append(time.perf_counter() - started)
    result = run(problem, network, "macropt", options_for("macropt", {}), StoppingRules(max_iterations=iterations))
    history = result.history
    return DeploymentResult(problem.n_agents, problem.n_cells, len(history),
                            1000.0 * statistics.median(history["iteration_time_s"]), 1000.0 * statistics.median(times),
                            float(history["objective"].iloc[0]), float(history["objective"].iloc[-1]))


def deployment_table(r: DeploymentResult) -> str:
    return "\n".join([
        "| agents | cells | iterations | MACROPT ms / iteration | exact gradient ms | ratio | divergence first -> last |",
        "|---:|---:|---:|---:|---:|---:|---|",
        f"| {r.agents} | {r.cells} | {r.iterations} | {r.macropt_ms:.1f} | {r.gradient_ms:.1f} | {r.ratio:.1f} | "
        f"{r.divergence_start:.3f} -> {r.divergence_end:.3f} |"])


__all__ = ["DeploymentResult", "deployment_table", "measure"]

"""Benchmark (k): DELTA per iteration on the 20-agent experiment against aggregative tracking with exact gradients,
and what the optional extra costs at start-up (importing JAX and optax).

``cases/delta_20.xlsx`` (two hidden layers of 300 neurons, a replay of 64 samples: the defaults), one process.  Per
iteration: the history's median ``iteration_time_s`` (every agent's sample, learning step on its network, input
gradient, projected step and the consensus; the evaluation is not in it).  Baseline in the same run: aggregative
tracking on the same case, whose agents evaluate the exact gradients of their compiled costs.  Import: the median
wall time of ``python -c "import jax, optax"`` over ``repeats`` fresh interpreters, minus that of ``python -c
pass``.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from ecodec.decomposition import StoppingRules, options_for, run
from ecodec.io.workbook import read_case
from ecodec.network import network_from_case
from ecodec.problem import problem_from_case

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class DeltaResult:
    agents: int
    width: int
    iterations: int
    import_s: float
    delta_ms: float
    tracking_ms: float
    setup_s: float

    @property
    def ratio(self) -> float:
        return self.delta_ms / self.tracking_ms


def _interpreter_s(code: str, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def measure(iterations: int, repeats: int = 3) -> DeltaResult:
    case = read_case(ROOT / "cases" / "delta_20.xlsx")
    problem, network = problem_from_case(case), network_from_case(case)
    import_s = _interpreter_s("import jax, optax", repeats) - _interpreter_s("pass", repeats)
    stopping = StoppingRules(max_iterations=iterations)
    options = options_for("delta", case.driver_options.get("delta", {}))
    delta = run(problem, network, "delta", options, stopping)
    tracking = run(problem, network, "aggregative-tracking",
                   options_for("aggregative-tracking", case.driver_options.get("aggregative-tracking", {})), stopping)
    median_ms = lambda result: 1000.0 * statistics.median(result.history["iteration_time_s"])  # noqa: E731
    return DeltaResult(problem.n_agents, options.width, len(delta.history), import_s, median_ms(delta),
                       median_ms(tracking), float(delta.info["setup_time_s"]))


def delta_table(r: DeltaResult) -> str:
    return "\n".join([
        "| agents | width | iterations | import jax, optax s | DELTA set-up s | DELTA ms / iteration | "
        "aggregative tracking ms / iteration | ratio |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
        f"| {r.agents} | {r.width} | {r.iterations} | {r.import_s:.2f} | {r.setup_s:.2f} | {r.delta_ms:.2f} | "
        f"{r.tracking_ms:.3f} | {r.ratio:.1f} |"])


__all__ = ["DeltaResult", "delta_table", "measure"]

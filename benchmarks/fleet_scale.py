"""Benchmark (k): generated LP fleets of 100 to 10,000 vehicles: set-up, peak memory and per-agent iteration cost.

Per fleet size N the fleet of ``ecodec generate pev --n N --variant lp`` (seed 0: vehicles on one feeder whose limit
binds, 24 slots of 20 minutes) is written to a workbook once.  Then each measurement runs in a child process of its
own, so its peak memory (``ru_maxrss``) is its own:

* ``read_s``: reading the workbook (:func:`ecodec.io.workbook.read_case`), the baseline set-up is measured against;
* per method, :func:`ecodec.decomposition.run` for a few iterations without a reference: ``setup_s`` (compiling
  every local subproblem and the method's own start, as the run reports it), the median ``iteration_time_s``
  divided by N (ms per iteration per agent), and the child's peak memory;
* ``centralized_s``: the centralized HiGHS solve of the same fleet (Pyomo build and solve), measured in the same
  run as a second baseline.

The acceptance the numbers are read against (docs/scale.md): at 10,000 vehicles set-up at most 10 times the
reading time, peak memory under 4 GB, and ms per iteration per agent within 1.2 times the 100-vehicle figure.
"""

from __future__ import annotations

import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class FleetResult:
    """One (fleet size, method) measurement."""

    vehicles: int
    method: str
    read_s: float
    setup_s: float
    ms_per_iteration_per_agent: float
    iterations: int
    peak_mb: float
    status: str

    @property
    def setup_over_read(self) -> float:
        return self.setup_s / self.read_s


def _child(path: str, method: str, iterations: int) -> dict:
    """Runs in the child process: read, then ``method`` (or the centralized solve)."""
    from ecodec.decomposition import options_for, run
    from ecodec.decomposition.stopping import StoppingRules
    from ecodec.io.workbook import read_case
    from ecodec.network.graph import network_from_case
    from ecodec.problem.from_case import problem_from_case

    started = time.perf_counter()
    case = read_case(path)
    read_s = time.perf_counter() - started
    problem = problem_from_case(case)
    network = network_from_case(case)
    result = run(problem, network, method, options_for(method), stopping=StoppingRules(max_iterations=iterations))
    if method == "centralized":
        setup_s, per_agent, done = result.info["wall_time_s"], float("nan"), 1
    else:
        setup_s = result.info["setup_time_s"]
        per_agent = statistics.median(result.history["iteration_time_s"]) * 1e3 / len(problem.agents)
        done = len(result.history)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    return {"read_s": read_s, "setup_s": setup_s, "ms_per_iteration_per_agent": per_agent, "iterations": done,
            "peak_mb": peak_mb, "status": result.status}


def measure(vehicles: int, methods: tuple[str, ...], iterations: int, workdir: Path) -> list[FleetResult]:
    """Every method (and the centralized solve) on the N-vehicle fleet, each in a child process."""
    from ecodec.io.pev import pev_tables
    from ecodec.io.template import write_case_workbook

    path = workdir / f"pev_lp_{vehicles}.xlsx"
    if not path.exists():
        write_case_workbook(path, pev_tables(vehicles, 0, "lp"))
    out = []
    for method in ("centralized", *methods):
        completed = subprocess.run([sys.executable, __file__, "--child", str(path), method, str(iterations)],
                                   capture_output=True, text=True, check=False, cwd=ROOT)
        if completed.returncode != 0:
            raise RuntimeError(f"{method} on {vehicles} vehicles failed: {completed.stderr[-2000:]}")
        numbers = json.loads(completed.stdout.strip().splitlines()[-1])
        out.append(FleetResult(vehicles=vehicles, method=method, **numbers))
    return out


def fleet_table(results: list[FleetResult]) -> str:
    """Markdown: one row per fleet size and method, with the 100-vehicle (smallest) per-agent figure as the base."""
    smallest = min(r.vehicles for r in results)
    base = {r.method: r.ms_per_iteration_per_agent for r in results if r.vehicles == smallest}
    lines = ["| vehicles | method | read s | set-up s | set-up / read | peak MB | ms / iteration / agent | "
             f"vs {smallest} vehicles | status |", "|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        per_agent = "" if r.method == "centralized" else f"{r.ms_per_iteration_per_agent:.3f}"
        ratio = "" if r.method == "centralized" else f"{r.ms_per_iteration_per_agent / base[r.method]:.2f}"
        lines.append(f"| {r.vehicles} | {r.method} | {r.read_s:.2f} | {r.setup_s:.2f} | {r.setup_over_read:.2f} | "
                     f"{r.peak_mb:.0f} | {per_agent} | {ratio} | {r.status} |")
    return "\n".join(lines)


def measure_all(sizes: tuple[int, ...], methods: tuple[str, ...], iterations: int) -> list[FleetResult]:
    with tempfile.TemporaryDirectory(prefix="ecodec-fleet-") as tmp:
        return [r for n in sizes for r in measure(n, methods, iterations, Path(tmp))]


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--child":
        print(json.dumps(_child(sys.argv[2], sys.argv[3], int(sys.argv[4]))))
    else:
        sizes = tuple(int(n) for n in sys.argv[1:]) or (100, 400, 2000, 10000)
        print(fleet_table(measure_all(sizes, ("primal-decomposition",), 5)))

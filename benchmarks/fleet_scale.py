"""Benchmark (m): generated LP fleets of 100 to 10,000 vehicles: set-up, peak memory, per-agent iteration cost and
iterations to 1%.

Per fleet size N the fleet of ``ecodec generate pev --n N --variant lp`` (seed 0: vehicles on one feeder whose limit
binds, 24 slots of 20 minutes) is written to a workbook once.  Then each measurement runs in a child process of its
own, so its peak memory (``ru_maxrss``) is its own:

* ``read_s``: reading the workbook (:func:`ecodec.io.workbook.read_case`), the baseline set-up is measured against;
* per method, :func:`ecodec.decomposition.run` for a few iterations without a reference: ``setup_s`` (compiling
  every local subproblem and the method's own start, as the run reports it), the median ``iteration_time_s``
  divided by N (ms per iteration per agent), of it the median time inside the solvers (every
  ``highspy.Highs.run`` and every PIQP solve of the child is timed; the rest is ecodec's own work: the method's
  numpy, messages, evaluation), and the child's peak memory;
* ``centralized_s``: the centralized HiGHS solve of the same fleet (Pyomo build and solve), measured in the same
  run as a second baseline;
* **iterations to 1%** (:func:`measure_convergence`): per method, a child solves the fleet centrally for the
  reference, then runs the method until its relative coupling violation and its cost gap to the reference are both
  at most 1% (the loop's tolerance rule), or until an iteration cap per size; a converged run reports its last
  iterate's violation and cost gap, one that reaches the cap the least violation it reached and the gap there;
* :func:`fleet_plot` draws set-up and per-agent iteration cost against the fleet size (README, docs/scale.md).

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
#: The tolerance of the iterations-to-1% runs: relative violation and cost gap
TOL = 0.01


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
    solver_ms_per_iteration_per_agent: float = float("nan")
    #: the per-agent figure of every run of this measurement (the row is the run with the median one)
    runs_ms: tuple[float, ...] = ()

    @property
    def setup_over_read(self) -> float:
        return self.setup_s / self.read_s


def _clock_solvers() -> list[float]:
    """Time every solver run of this process from now on (``highspy.Highs.run`` and the PIQP solves of
    :class:`~ecodec.solvers.interior_qp.InteriorPointQP`, set-up included): the returned list holds the seconds spent
    in the solvers so far (its first entry, updated in place)."""
    import highspy

    from ecodec.solvers.interior_qp import InteriorPointQP

    spent = [0.0]

    def clocked(solve):
        def timed(self):
            started = time.perf_counter()
            try:
                return solve(self)
            finally:
                spent[0] += time.perf_counter() - started
        return timed

    highspy.Highs.run = clocked(highspy.Highs.run)
    InteriorPointQP.solve = clocked(InteriorPointQP.solve)
    return spent


def _child(path: str, method: str, iterations: int, timed_options: bool = True) -> dict:
    """Runs in the child process: read, then ``method`` (or the centralized solve; with its ``TIMED_OPTIONS`` from
    :mod:`scaling` unless ``timed_options`` is False: its defaults); per iteration, the time spent inside the
    solvers' runs (the rest is ecodec's own work: the method, messages, evaluation)."""
    from scaling import TIMED_OPTIONS

    from ecodec.decomposition import options_for, run
    from ecodec.decomposition.hooks import Hook
    from ecodec.decomposition.stopping import StoppingRules
    from ecodec.io.workbook import read_case
    from ecodec.network.graph import network_from_case
    from ecodec.problem.from_case import problem_from_case

    started = time.perf_counter()
    case = read_case(path)
    read_s = time.perf_counter() - started
    problem = problem_from_case(case)
    network = network_from_case(case)
    spent, marks = _clock_solvers(), []

    class Marks(Hook):  # the solvers' time so far when the iterations start and after each one
        def on_start(self, method, problem, stopping):
            marks.append(spent[0])

        def on_iteration(self, record):
            marks.append(spent[0])

    result = run(problem, network, method, options_for(method, TIMED_OPTIONS.get(method, {}) if timed_options else {}),
                 stopping=StoppingRules(max_iterations=iterations), hooks=[Marks()])
    in_solvers = float("nan")
    if method == "centralized":
        setup_s, per_agent, done = result.info["wall_time_s"], float("nan"), 1
    else:
        setup_s = result.info["setup_time_s"]
        per_agent = statistics.median(result.history["iteration_time_s"]) * 1e3 / len(problem.agents)
        in_solvers = statistics.median(b - a for a, b in zip(marks, marks[1:])) * 1e3 / len(problem.agents)
        done = len(result.history)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    return {"read_s": read_s, "setup_s": setup_s, "ms_per_iteration_per_agent": per_agent, "iterations": done,
            "solver_ms_per_iteration_per_agent": in_solvers,
            "peak_mb": peak_mb, "status": result.status}


def measure(vehicles: int, methods: tuple[str, ...], iterations: int, workdir: Path,
            repeats: int = 1) -> list[FleetResult]:
    """Every method (and the centralized solve) on the N-vehicle fleet, each in a child process; each method
    ``repeats`` times, one child after the other, its row the run with the median time per iteration and agent
    (single runs of one size were measured to vary by 15-30% on a 2-core machine)."""
    from ecodec.io.pev import pev_tables
    from ecodec.io.template import write_case_workbook

    path = workdir / f"pev_lp_{vehicles}.xlsx"
    if not path.exists():
        write_case_workbook(path, pev_tables(vehicles, 0, "lp"))
    results = []
    for method in ("centralized", *methods):
        runs = [_in_child("--child", path, method, iterations, f"{method} on {vehicles} vehicles")
                for _ in range(1 if method == "centralized" else repeats)]
        median = sorted(runs, key=lambda run: run["ms_per_iteration_per_agent"])[(len(runs) - 1) // 2]
        results.append(FleetResult(vehicles=vehicles, method=method, **median,
                                   runs_ms=tuple(run["ms_per_iteration_per_agent"] for run in runs)))
    return results


def _in_child(mode: str, path: Path, method: str, number: int, what: str) -> dict:
    """This script in a child process (``mode``: --child or --converge); the numbers it prints."""
    completed = subprocess.run([sys.executable, __file__, mode, str(path), method, str(number)],
                               capture_output=True, text=True, check=False, cwd=ROOT)
    if completed.returncode != 0:
        raise RuntimeError(f"{what} failed: {completed.stderr[-2000:]}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


def fleet_table(results: list[FleetResult]) -> str:
    """Markdown: one row per fleet size and method, with the 100-vehicle (smallest) per-agent figure as the base;
    the per-agent time split into the solvers' runs (HiGHS, PIQP) and the rest."""
    smallest = min(r.vehicles for r in results)
    base = {r.method: r for r in results if r.vehicles == smallest}
    lines = ["| vehicles | method | read s | set-up s | set-up / read | peak MB | ms / iteration / agent | "
             f"vs {smallest} vehicles | of it in the solvers ms (vs {smallest}) | rest ms (vs {smallest}) | status |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        cells = ["", "", "", ""]
        if r.method != "centralized":
            b = base[r.method]
            total, solver, base_solver = r.ms_per_iteration_per_agent, r.solver_ms_per_iteration_per_agent, (
                b.solver_ms_per_iteration_per_agent)
            rest, base_rest = total - solver, b.ms_per_iteration_per_agent - base_solver
            spread = f" ({min(r.runs_ms):.3f}-{max(r.runs_ms):.3f})" if len(r.runs_ms) > 1 else ""
            cells = [f"{total:.3f}{spread}", f"{total / b.ms_per_iteration_per_agent:.2f}",
                     f"{solver:.3f} ({solver / base_solver:.2f})", f"{rest:.3f} ({rest / base_rest:.2f})"]
        lines.append(f"| {r.vehicles} | {r.method} | {r.read_s:.2f} | {r.setup_s:.2f} | {r.setup_over_read:.2f} | "
                     f"{r.peak_mb:.0f} | {' | '.join(cells)} | {r.status} |")
    return "\n".join(lines)


@dataclass(frozen=True)
class ConvergenceResult:
    """One (fleet size, method) run to 1%."""

    vehicles: int
    method: str
    cap: int
    iterations: int
    converged: bool
    violation: float
    cost_gap: float
    wall_s: float


def _converge_child(path: str, method: str, cap: int) -> dict:
    """Runs in the child process: the centralized reference, then ``method`` to 1% or ``cap`` iterations."""
    from ecodec.decomposition import options_for, run
    from ecodec.decomposition.stopping import StoppingRules
    from ecodec.io.workbook import read_case
    from ecodec.network.graph import network_from_case
    from ecodec.problem.from_case import problem_from_case

    case = read_case(path)
    problem, network = problem_from_case(case), network_from_case(case)
    reference = run(problem, network, "centralized", options_for("centralized"))
    started = time.perf_counter()
    result = run(problem, network, method, options_for(method), reference=reference,
                 stopping=StoppingRules(max_iterations=cap, violation_tol=TOL, cost_gap_tol=TOL))
    history, converged = result.history, result.status == "converged"
    at = len(history) - 1 if converged else int(history["rel_violation"].to_numpy().argmin())
    return {"cap": cap, "iterations": len(history), "converged": converged,
            "violation": float(history["rel_violation"].iloc[at]), "cost_gap": float(history["cost_gap"].iloc[at]),
            "wall_s": time.perf_counter() - started}


def measure_convergence(caps: dict[int, int], methods: tuple[str, ...]) -> list[ConvergenceResult]:
    """Iterations to 1% of every method on the fleet of each size in ``caps`` (size: iteration cap)."""
    from ecodec.io.pev import pev_tables
    from ecodec.io.template import write_case_workbook

    out = []
    with tempfile.TemporaryDirectory(prefix="ecodec-fleet-") as tmp:
        for vehicles, cap in caps.items():
            path = Path(tmp) / f"pev_lp_{vehicles}.xlsx"
            write_case_workbook(path, pev_tables(vehicles, 0, "lp"))
            out += [ConvergenceResult(vehicles=vehicles, method=method, **_in_child(
                "--converge", path, method, cap, f"{method} to 1% on {vehicles} vehicles")) for method in methods]
    return out


def convergence_table(results: list[ConvergenceResult]) -> str:
    """Markdown: iterations to a relative violation and cost gap of 1% with the last iterate's violation and gap,
    or the cap with the least violation reached and the gap there."""
    lines = ["| vehicles | method | iterations to 1% | violation (cost gap): last, or least within the cap | wall s |",
             "|---|---|---|---|---|"]
    for r in results:
        reached = str(r.iterations) if r.converged else f"not within {r.cap}"
        lines.append(f"| {r.vehicles} | {r.method} | {reached} | {r.violation:.2%} ({r.cost_gap:+.2%}) | "
                     f"{r.wall_s:.1f} |")
    return "\n".join(lines)


def fleet_plot(results: list[FleetResult], path: Path) -> Path:
    """Set-up (with the reading time) and ms per iteration per agent against the fleet size, one line per method;
    written as a PNG to ``path``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = sorted({r.vehicles for r in results})
    methods = [m for m in dict.fromkeys(r.method for r in results) if m != "centralized"]
    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    first = {r.vehicles: r for r in results if r.method == methods[0]}
    left.plot(sizes, [first[n].read_s for n in sizes], "k--", marker="s", label="reading the workbook")
    for colour, method in enumerate(("centralized", *methods)):
        rows = {r.vehicles: r for r in results if r.method == method}
        label = "centralized HiGHS (build + solve)" if method == "centralized" else f"{method} set-up"
        left.plot(sizes, [rows[n].setup_s for n in sizes], marker="o", color=f"C{colour}", label=label)
        if method != "centralized":
            right.plot(sizes, [rows[n].ms_per_iteration_per_agent for n in sizes], marker="o", color=f"C{colour}",
                       label=method)
    left.set(xscale="log", yscale="log", xlabel="vehicles", ylabel="seconds", title="set-up against reading")
    right.set(xscale="log", xlabel="vehicles", ylabel="ms per iteration per agent", title="per-agent iteration cost")
    right.set_ylim(bottom=0)
    for axes in (left, right):
        axes.set_xticks(sizes, [f"{n:,}" for n in sizes])
        axes.minorticks_off()
        axes.grid(True, alpha=0.3)
        axes.legend(fontsize=7)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def measure_all(sizes: tuple[int, ...], methods: tuple[str, ...], iterations: int,
                repeats: int = 1) -> list[FleetResult]:
    with tempfile.TemporaryDirectory(prefix="ecodec-fleet-") as tmp:
        return [r for n in sizes for r in measure(n, methods, iterations, Path(tmp), repeats)]


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] in ("--child", "--child-defaults"):  # the second: the method's defaults
        print(json.dumps(_child(sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[1] == "--child")))
    elif len(sys.argv) == 5 and sys.argv[1] == "--converge":
        print(json.dumps(_converge_child(sys.argv[2], sys.argv[3], int(sys.argv[4]))))
    else:  # python benchmarks/fleet_scale.py [SIZES...] [--plot PNG]
        arguments = sys.argv[1:]
        plot = Path(arguments.pop(arguments.index("--plot") + 1)) if "--plot" in arguments else None
        sizes = tuple(int(n) for n in arguments if n != "--plot") or (100, 400, 2000, 10000)
        measured = measure_all(sizes, ("primal-decomposition", "tracking-admm"), 5, repeats=3)
        print(fleet_table(measured))
        if plot is not None:
            print(f"plot written to {fleet_plot(measured, plot)}")

"""Benchmark (h): adaptive tightening's time per iteration against the N-MILP floor, and what it certifies.

Fleets: ``cases/pev_100.xlsx`` and, in the full run, ``ecodec generate pev --n 500 --seed 0`` (on/off vehicles, a
connection limit of 1 kW per vehicle per slot).  Per fleet, in one process:

* the run: ``tightening-adaptive`` with default options for ``iterations`` iterations on the in-process runtime;
  the time of each iteration is the history's ``iteration_time_s``.  An iteration that ends with a
  column selection (every ``column_selection_every`` iterations) is reported apart: its MILP is the
  coordinator's, not the agents';
* the floor: at the run's last prices, every vehicle's priced MILP (the very model of its compiled program,
  taken with ``getLp()``) loaded into a fresh ``highspy.Highs`` with the same options and solved ``repeats``
  times; the floor of one iteration is the sum over the vehicles of the median solve time, times
  (1 + 1 / bound_every), since every ``bound_every``-th iteration also solves the unperturbed program.

The ratio is the median time of an iteration without a selection over the floor: what the method adds to the
agents' own MILP solves (pricing, row values, the coordinator's update, the columns kept).  The first feasible
iterate, the first incumbent (a feasible iterate or a column selection) and the certified gap at the end are the
run's own.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import highspy
import numpy as np

from ecodec.decomposition import StoppingRules, options_for, spec_of
from ecodec.decomposition.driver import run_driver
from ecodec.io.pev import pev_tables
from ecodec.io.template import write_case_workbook
from ecodec.io.workbook import read_case
from ecodec.network import network_from_case
from ecodec.problem.from_case import problem_from_case
from ecodec.runtime import InProcessRuntime

METHOD = "tightening-adaptive"


@dataclass(frozen=True)
class TighteningResult:
    fleet: str
    vehicles: int
    iterations: int
    first_feasible: int | None
    first_incumbent: int | None
    certified_gap: float | None
    upper_bound: float | None
    lower_bound: float | None
    iteration_s: float
    selection_iteration_s: float | None
    floor_s: float

    @property
    def over_floor(self) -> float:
        return self.iteration_s / self.floor_s


def _fleet_case(fleet: str | int):
    if isinstance(fleet, str):
        return read_case(fleet)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"pev_{fleet}.xlsx"
        write_case_workbook(path, pev_tables(fleet, 0, "milp"))
        return read_case(path)


def _bare_solve_s(program, repeats: int) -> float:
    """Median time of solving ``program``'s current model from scratch in a fresh highspy instance."""
    times = []
    for _ in range(repeats):
        h = highspy.Highs()
        h.setOptionValue("output_flag", False)
        for name in ("threads", "mip_rel_gap", "mip_heuristic_run_feasibility_jump"):
            h.setOptionValue(name, program._h.getOptionValue(name)[1])
        h.passModel(program._h.getLp())
        started = time.perf_counter()
        h.run()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def measure_fleet(fleet: str | int, iterations: int, repeats: int = 3) -> TighteningResult:
    case = _fleet_case(fleet)
    problem, network = problem_from_case(case), network_from_case(case)
    options = options_for(METHOD)
    driver = spec_of(METHOD).driver(problem, InProcessRuntime(network), options)
    driver.label = METHOD
    result = run_driver(driver, StoppingRules(max_iterations=iterations))
    history = result.history
    per_iteration = history["iteration_time_s"].to_numpy()
    numbers = history["iteration"].to_numpy()
    every = options.column_selection_every
    selecting = (numbers % every == 0) if every else np.zeros(numbers.size, dtype=bool)
    floor = 0.0
    for agent in driver.local.values():
        agent.solve(driver.price)
        floor += _bare_solve_s(agent.sub.program, repeats)
    feasible = np.flatnonzero(history["feasible"].to_numpy() == 1.0)
    incumbent = np.flatnonzero(history["upper_bound"].notna().to_numpy())
    info = result.info
    return TighteningResult(
        fleet=Path(fleet).name if isinstance(fleet, str) else f"generated, {fleet} vehicles", vehicles=len(driver.local),
        iterations=len(history), first_feasible=int(feasible[0]) + 1 if feasible.size else None,
        first_incumbent=int(incumbent[0]) + 1 if incumbent.size else None,
        certified_gap=info.get("certified_gap"), upper_bound=info.get("upper_bound"),
        lower_bound=info.get("lower_bound"), iteration_s=float(np.median(per_iteration[~selecting])),
        selection_iteration_s=float(np.median(per_iteration[selecting])) if selecting.any() else None,
        floor_s=floor * (1.0 + 1.0 / options.bound_every))


def tightening_table(results: list[TighteningResult]) -> str:
    def pct(value):
        return "-" if value is None else f"{value:.1%}"

    lines = ["| fleet | vehicles | iterations | first feasible iterate | first incumbent | UB [EUR] | LB [EUR] | certified gap | "
             "iteration [ms] | N-MILP floor [ms] | iteration / floor | iteration with a selection [ms] |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        lines.append(
            f"| {r.fleet} | {r.vehicles} | {r.iterations} | {r.first_feasible or '-'} | {r.first_incumbent or '-'} | "
            f"{'-' if r.upper_bound is None else f'{r.upper_bound:.4f}'} | "
            f"{'-' if r.lower_bound is None else f'{r.lower_bound:.4f}'} | {pct(r.certified_gap)} | "
            f"{1000 * r.iteration_s:.1f} | {1000 * r.floor_s:.1f} | {r.over_floor:.2f} | "
            f"{'-' if r.selection_iteration_s is None else f'{1000 * r.selection_iteration_s:.0f}'} |")
    return "\n".join(lines)


__all__ = ["TighteningResult", "measure_fleet", "tightening_table"]

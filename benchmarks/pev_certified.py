"""Benchmark (d): time to a certified 1% gap on binary PEV fleets, DualBi and tightening against HiGHS's MILP.

Fleets: ``ecodec generate pev --n N --seed 0 --variant milp --coupling budget`` (the published distributions, a
total-energy budget halfway between the least energy the fleet needs and the most it can take, vehicles valuing
the energy they hold beyond their target; :func:`ecodec.io.pev.pev_tables`).  Per size, in the same process:

* centralized: :func:`~ecodec.decomposition.centralized.solve_centralized` with ``mip_rel_gap = 0.01`` (HiGHS stops
  once its own bound certifies 1%): the Pyomo build, the HiGHS solve, and their sum;
* DualBi with ``gap_tol = 0.01`` (it stops once its dual bound certifies 1%) on the in-process runtime: setup
  (compiling every vehicle's MILP and the LP check of the row), the iterations, and their sum;
* at the sizes asked, adaptive tightening with ``gap_tol = 0.01`` up to an iteration cap: its whole run time, its
  iterations and the certified gap it reached (none when it found no coupling-feasible iterate, so no upper bound).

Each side's certificate is checked against the other's: DualBi's best cost must be at or above HiGHS's bound and
HiGHS's cost at or above DualBi's lower bound (both bound the same optimum).  The ratio reported is DualBi's total
over the centralized total; 'wins' when below 1.  One process, no MPI: DualBi's iterations divide over ranks
(benchmark (c) shows the per-iteration speed-up), the centralized solve does not.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ecodec.decomposition import StoppingRules, options_for, run
from ecodec.decomposition.centralized import solve_centralized
from ecodec.io.pev import pev_tables
from ecodec.io.template import write_case_workbook
from ecodec.io.workbook import read_case
from ecodec.network import network_from_case
from ecodec.problem.from_case import problem_from_case

GAP = 0.01


@dataclass(frozen=True)
class CertifiedResult:
    vehicles: int
    budget_kwh: float
    centralized_build_s: float
    centralized_solve_s: float
    centralized_objective: float
    centralized_bound: float
    centralized_gap: float
    dualbi_setup_s: float
    dualbi_iterations_s: float
    dualbi_iterations: int
    dualbi_objective: float
    dualbi_lower_bound: float
    dualbi_gap: float
    dualbi_status: str
    bounds_consistent: bool
    tightening_s: float | None = None
    tightening_iterations: int | None = None
    tightening_gap: float | None = None
    tightening_status: str | None = None

    @property
    def centralized_s(self) -> float:
        return self.centralized_build_s + self.centralized_solve_s

    @property
    def dualbi_s(self) -> float:
        return self.dualbi_setup_s + self.dualbi_iterations_s

    @property
    def ratio(self) -> float:
        return self.dualbi_s / self.centralized_s


def measure_fleet(n: int, seed: int = 0, max_iterations: int = 100, time_limit_s: float = 3600.0,
                  tightening_iterations: int = 0) -> CertifiedResult:
    """DualBi (and, when ``tightening_iterations`` > 0, adaptive tightening up to that many iterations) against
    HiGHS on the ``n``-vehicle budget fleet of ``seed``."""
    tables = pev_tables(n, seed, "milp", coupling="budget")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"pev_{n}_budget.xlsx"
        write_case_workbook(path, tables)
        case = read_case(path)
    problem, network = problem_from_case(case), network_from_case(case)
    centralized = solve_centralized(problem, options_for("centralized", {"mip_rel_gap": GAP,
                                                                        "time_limit_s": time_limit_s}))
    dualbi = run(problem, network, "dualbi", options_for("dualbi", {"gap_tol": GAP}),
                 stopping=StoppingRules(max_iterations=max_iterations))
    info = dualbi.info
    lower = float(info["lower_bound"])
    bound = float(centralized.info["objective_bound"])
    consistent = dualbi.objective >= bound - 1e-9 * abs(bound) and centralized.objective >= lower - 1e-9 * abs(lower)
    tightening = {}
    if tightening_iterations:
        tight = run(problem, network, "tightening", options_for("tightening", {"gap_tol": GAP}),
                    stopping=StoppingRules(max_iterations=tightening_iterations))
        gap = tight.info.get("certified_gap")
        has_gap = gap is not None and np.isfinite(float(gap))
        if has_gap:  # its bounds bracket the same optimum as HiGHS's
            consistent = consistent and float(tight.info["lower_bound"]) <= centralized.objective * (1 + 1e-9) and (
                float(tight.info["upper_bound"]) >= bound - 1e-9 * abs(bound))
        tightening = {"tightening_s": float(tight.info["wall_time_s"]), "tightening_iterations": len(tight.history),
                      "tightening_gap": float(gap) if has_gap else None, "tightening_status": tight.status}
    return CertifiedResult(
        vehicles=n, budget_kwh=-float(tables["resources"][0]["rhs"]),
        centralized_build_s=float(centralized.info["build_time_s"]),
        centralized_solve_s=float(centralized.info["solve_time_s"]),
        centralized_objective=float(centralized.objective), centralized_bound=bound,
        centralized_gap=float(centralized.info["mip_gap"]),
        dualbi_setup_s=float(info["setup_time_s"]),
        dualbi_iterations_s=float(info["wall_time_s"]) - float(info["setup_time_s"]),
        dualbi_iterations=int(info["iterations"]), dualbi_objective=float(dualbi.objective),
        dualbi_lower_bound=lower, dualbi_gap=float(info["certified_gap"]), dualbi_status=dualbi.status,
        bounds_consistent=bool(consistent), **tightening)


def _tightening_cell(r: CertifiedResult) -> str:
    if r.tightening_s is None:
        return "not run"
    reached = f"{r.tightening_gap:.2%}" if r.tightening_gap is not None else "no certificate"
    return f"{r.tightening_s:.1f} s, {r.tightening_iterations} iterations, {reached}"


def certified_table(results: list[CertifiedResult]) -> str:
    lines = ["| vehicles | HiGHS build + solve s | HiGHS gap | DualBi setup + iterations s | DualBi iterations | "
             "DualBi certified gap | DualBi / HiGHS time | costs (HiGHS, DualBi) EUR | bounds agree | "
             "tightening (time, iterations, certified gap) |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|---|---|"]
    for r in results:
        lines.append(
            f"| {r.vehicles} | {r.centralized_build_s:.1f} + {r.centralized_solve_s:.1f} = {r.centralized_s:.1f} | "
            f"{r.centralized_gap:.2%} | {r.dualbi_setup_s:.1f} + {r.dualbi_iterations_s:.1f} = {r.dualbi_s:.1f} | "
            f"{r.dualbi_iterations} | {r.dualbi_gap:.2%} | {r.ratio:.2f} "
            f"({'DualBi faster' if r.ratio < 1 else 'HiGHS faster'}) | {r.centralized_objective:.4f}, "
            f"{r.dualbi_objective:.4f} | {'yes' if r.bounds_consistent else 'NO'} | {_tightening_cell(r)} |")
    return "\n".join(lines)

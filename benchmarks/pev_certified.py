"""Benchmark (d): time to a certified 1% gap on binary PEV fleets, DualBi against the centralized MILP on HiGHS.

Fleets: ``ecodec generate pev --n N --seed 0 --variant milp --coupling budget`` (the published distributions, a
total-energy budget halfway between the least energy the fleet needs and the most it can take, vehicles valuing
the energy they hold beyond their target; :func:`ecodec.io.pev.pev_tables`).  Per size, in the same process:

* centralized: :func:`~ecodec.decomposition.centralized.solve_centralized` with ``mip_rel_gap = 0.01`` (HiGHS stops
  once its own bound certifies 1%): the Pyomo build, the HiGHS solve, and their sum;
* DualBi with ``gap_tol = 0.01`` (it stops once its dual bound certifies 1%) on the in-process runtime: setup
  (compiling every vehicle's MILP and the LP check of the row), the iterations, and their sum.

Each side's certificate is checked against the other's: DualBi's best cost must be at or above HiGHS's bound and
HiGHS's cost at or above DualBi's lower bound (both bound the same optimum).  The ratio reported is DualBi's total
over the centralized total; 'wins' when below 1.  One process, no MPI: DualBi's iterations divide over ranks
(benchmark (c) shows the per-iteration speed-up), the centralized solve does not.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

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

    @property
    def centralized_s(self) -> float:
        return self.centralized_build_s + self.centralized_solve_s

    @property
    def dualbi_s(self) -> float:
        return self.dualbi_setup_s + self.dualbi_iterations_s

    @property
    def ratio(self) -> float:
        return self.dualbi_s / self.centralized_s


def measure_fleet(n: int, seed: int = 0, max_iterations: int = 100, time_limit_s: float = 3600.0) -> CertifiedResult:
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
        bounds_consistent=bool(consistent))


def certified_table(results: list[CertifiedResult]) -> str:
    lines = ["| vehicles | HiGHS build + solve s | HiGHS gap | DualBi setup + iterations s | DualBi iterations | "
             "DualBi certified gap | DualBi / HiGHS time | costs (HiGHS, DualBi) EUR | bounds agree |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for r in results:
        lines.append(
            f"| {r.vehicles} | {r.centralized_build_s:.1f} + {r.centralized_solve_s:.1f} = {r.centralized_s:.1f} | "
            f"{r.centralized_gap:.2%} | {r.dualbi_setup_s:.1f} + {r.dualbi_iterations_s:.1f} = {r.dualbi_s:.1f} | "
            f"{r.dualbi_iterations} | {r.dualbi_gap:.2%} | {r.ratio:.2f} "
            f"({'DualBi faster' if r.ratio < 1 else 'HiGHS faster'}) | {r.centralized_objective:.4f}, "
            f"{r.dualbi_objective:.4f} | {'yes' if r.bounds_consistent else 'NO'} |")
    return "\n".join(lines)

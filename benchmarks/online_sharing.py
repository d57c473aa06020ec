"""Benchmark (i): online energy sharing, time per round per node of DRS, MA-NSDRS and BanSaP against the comparator
LP's solve time in the same run, and the wall time of the shipped 20-node comparison over 10 seeds.

Networks: the shipped ``cases/der_sharing_6.xlsx`` and ``cases/der_sharing_20.xlsx``, and synthetic networks of
200 and 2000 nodes from the same data (:func:`synthetic_problem`): node k takes the June 2006 profile of NREL site
k mod 6 (per unit of its capacity) times a capacity drawn from 1-10 MW (the range of the 20 NYISO facilities), and
is joined to its 3 nearest neighbours among points drawn uniformly in a square, plus the edges of the minimum
spanning tree of the points (so the graph is connected).  Each method runs one process for ``rounds`` rounds on
seed 0; its time per round is the history's median ``iteration_time_s`` (the nodes' steps and messages; the
evaluation against the comparator is not in it).  The comparator is the per-round LP of
:mod:`ecodec.solvers.sharing_comparator` solved for the same rounds; its time per round is the median HiGHS solve.
The ratio is a method's round over the comparator's: what learning on every node costs against solving the whole
round centrally (which no node can: it needs every node's generation and demand).
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.sparse.csgraph import minimum_spanning_tree
from scipy.spatial import distance_matrix

from ecodec.decomposition import StoppingRules, options_for, run
from ecodec.io.workbook import read_case
from ecodec.models import Prosumer, TimeGrid
from ecodec.network import CommunicationNetwork
from ecodec.problem import OnlineSharingProblem, problem_from_case
from ecodec.solvers.sharing_comparator import SharingComparator

ROOT = Path(__file__).resolve().parents[1]
METHODS = ("drs", "ma-nsdrs", "bansap")
COMPARISON = ("drs", "drs-na", "ma-nsdrs", "ma-nsdrs-na", "bansap")


@dataclass(frozen=True)
class OnlineResult:
    network: str
    nodes: int
    edges: int
    rounds: int
    comparator_ms: float
    method_ms: dict[str, float]

    def per_node_us(self, method: str) -> float:
        return 1000.0 * self.method_ms[method] / self.nodes

    def over_comparator(self, method: str) -> float:
        return self.method_ms[method] / self.comparator_ms


def synthetic_problem(n: int, rounds: int, seed: int = 0) -> OnlineSharingProblem:
    """``n`` prosumers from the NREL NY 2006 June profiles (module docstring), ``rounds`` hourly rounds."""
    rng = np.random.default_rng(seed)
    power = pd.read_csv(ROOT / "data" / "nrel_sind_ny_6sites_hourly_MW_2006.csv", parse_dates=["time_LST"])
    meta = pd.read_csv(ROOT / "data" / "nrel_sind_ny_6sites_meta.csv")
    june = power[power["time_LST"].dt.strftime("%Y-%m") == "2006-06"].reset_index(drop=True)
    per_unit = [june[site].to_numpy()[:rounds] / cap for site, cap in zip(meta.site_id, meta.capacity_MW)]
    names = [f"n{k:04d}" for k in range(n)]
    capacity = rng.uniform(1000.0, 10000.0, n)
    nodes = [Prosumer(name, generation_kw=per_unit[k % 6] * capacity[k], capacity_kw=float(capacity[k]))
             for k, name in enumerate(names)]
    points = rng.uniform(0.0, 1.0, (n, 2))
    distance = distance_matrix(points, points)
    edges = {tuple(sorted((i, int(j)))) for i in range(n) for j in np.argsort(distance[i])[1:4]}
    tree = minimum_spanning_tree(distance).tocoo()
    edges |= {tuple(sorted((int(i), int(j)))) for i, j in zip(tree.row, tree.col)}
    network = CommunicationNetwork.from_edges(names, [(names[i], names[j]) for i, j in sorted(edges)])
    return OnlineSharingProblem(nodes, network, TimeGrid(rounds, 1.0), name=f"synthetic_{n}")


def measure(problem: OnlineSharingProblem, label: str, rounds: int) -> OnlineResult:
    env = problem.environment(0)
    comparator = SharingComparator(problem)
    solves = [comparator.solve_round(env, t)[2] for t in range(rounds)]
    method_ms = {}
    for method in METHODS:
        result = run(problem, problem.network, method, options_for(method, {}), StoppingRules(max_iterations=rounds))
        method_ms[method] = 1000.0 * statistics.median(result.history["iteration_time_s"])
    return OnlineResult(label, problem.n_agents, problem.network.n_edges, rounds,
                        1000.0 * statistics.median(solves), method_ms)


def measure_all(sizes: tuple[tuple[object, int], ...]) -> list[OnlineResult]:
    """Per (shipped case path or number of synthetic nodes, rounds) the measurement of the module docstring."""
    out = []
    for network, rounds in sizes:
        if isinstance(network, str):
            problem = problem_from_case(read_case(ROOT / network))
            out.append(measure(problem, Path(network).stem, rounds))
        else:
            out.append(measure(synthetic_problem(network, rounds), f"synthetic {network}", rounds))
    return out


def comparison_time(seeds: int) -> float:
    """Wall time (s) of ``ecodec compare cases/der_sharing_20.xlsx`` with the five methods over ``seeds`` seeds."""
    from ecodec.study import compare_case

    started = time.perf_counter()
    compare_case(ROOT / "cases" / "der_sharing_20.xlsx", list(COMPARISON), seeds=seeds)
    return time.perf_counter() - started


def online_table(results: list[OnlineResult], comparison_s: float | None, seeds: int) -> str:
    lines = ["| network | nodes | edges | rounds | comparator ms / round | "
             + " | ".join(f"{m} ms / round (us / node) | {m} / comparator" for m in METHODS) + " |",
             "|---|---:|---:|---:|---:|" + "---:|---:|" * len(METHODS)]
    for r in results:
        lines.append(f"| {r.network} | {r.nodes} | {r.edges} | {r.rounds} | {r.comparator_ms:.3f} | "
                     + " | ".join(f"{r.method_ms[m]:.2f} ({r.per_node_us(m):.1f}) | {r.over_comparator(m):.1f}"
                                  for m in METHODS) + " |")
    if comparison_s is not None:
        lines += ["", f"`ecodec compare cases/der_sharing_20.xlsx` with {', '.join(COMPARISON)} over {seeds} seeds "
                      f"(720 rounds each, one process): {comparison_s:.1f} s."]
    return "\n".join(lines)


__all__ = ["OnlineResult", "comparison_time", "measure_all", "online_table", "synthetic_problem"]

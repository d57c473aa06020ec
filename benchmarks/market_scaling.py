"""Benchmark (g): projected aggregative tracking per iteration as the community market grows, against the
centralized Ipopt solve of the same market.

The shipped market (4 buyers, 4 sellers) is replicated: k copies of every household trade in one market of
N = 8 k agents.  Every copy at the base decisions sees the same energies and payments (E_i = Ehat(w) c_i / sum c
and R_j are ratios of sums that all grow by k), so the optimum of k copies is k times the base optimum at the
base decisions: the centralized solve must reach it, else the timing is void.  Baselines measured in the same
run: one Ipopt solve (one start) of the replicated market.  Figures of merit: the time of one tracking iteration
relative to that solve, and per agent relative to the 8-agent market (1.0 = linear in the agents).  The
communication graph is a ring (two neighbours per agent, whatever N), in one process.
"""

from __future__ import annotations

import dataclasses
import statistics
import time

from ecodec.decomposition import StoppingRules, options_for, run
from ecodec.decomposition.aggregative_tracking import AggregativeTracking
from ecodec.decomposition.driver import run_driver
from ecodec.decomposition.hooks import Hook
from ecodec.io.workbook import read_case
from ecodec.network import CommunicationNetwork
from ecodec.problem import AggregativeProblem, problem_from_case
from ecodec.runtime.inprocess import InProcessRuntime

OBJECTIVE_RTOL = 1e-6


@dataclasses.dataclass(frozen=True)
class MarketScalingResult:
    agents: int
    centralized_s: float
    objective: float
    expected_objective: float
    setup_s: float
    ms_per_iteration: float

    @property
    def reached(self) -> bool:
        return abs(self.objective - self.expected_objective) <= OBJECTIVE_RTOL * abs(self.expected_objective)

    @property
    def iteration_over_centralized(self) -> float:
        return self.ms_per_iteration / 1000.0 / self.centralized_s

    @property
    def ms_per_iteration_per_agent(self) -> float:
        return self.ms_per_iteration / self.agents


class _Timer(Hook):
    def __init__(self):
        self.times: list[float] = []

    def on_iteration(self, record: dict) -> None:
        self.times.append(record["iteration_time_s"])


def replicated(problem: AggregativeProblem, copies: int) -> AggregativeProblem:
    agents = [dataclasses.replace(agent, name=f"{agent.name}_{k + 1}") for k in range(copies)
              for agent in problem.agents]
    return AggregativeProblem(agents, problem.grid, name=f"{problem.name} x {copies}", currency=problem.currency)


def measure_market(case_path, copies: int, iterations: int, base_objective: float) -> MarketScalingResult:
    case = read_case(case_path)
    problem = replicated(problem_from_case(case), copies)
    names = [a.name for a in problem.agents]
    network = CommunicationNetwork.named("ring", names)
    started = time.perf_counter()
    reference = run(problem, network, "centralized", options_for("centralized", {"starts": 1}))
    centralized = time.perf_counter() - started
    timer = _Timer()
    options = options_for("aggregative-tracking", case.driver_options.get("aggregative-tracking", {}))
    driver = AggregativeTracking(problem, InProcessRuntime(network), options)
    result = run_driver(driver, StoppingRules(max_iterations=iterations), [timer])
    return MarketScalingResult(len(names), centralized, float(reference.objective), copies * base_objective,
                               float(result.info["setup_time_s"]), 1000.0 * statistics.median(timer.times))


def market_table(results: list[MarketScalingResult]) -> str:
    base = results[0]
    lines = ["| agents | centralized Ipopt s | optimum = copies x base | tracking setup s | ms per iteration "
             "| iteration / centralized | ms per iteration per agent | per agent vs 8 agents |",
             "|---:|---:|---|---:|---:|---:|---:|---:|"]
    for r in results:
        lines.append(f"| {r.agents} | {r.centralized_s:.3f} | {'yes' if r.reached else 'NO'} ({r.objective:.6g}) "
                     f"| {r.setup_s:.2f} | {r.ms_per_iteration:.3f} | {r.iteration_over_centralized:.4f} "
                     f"| {r.ms_per_iteration_per_agent:.4f} "
                     f"| {r.ms_per_iteration_per_agent / base.ms_per_iteration_per_agent:.2f} |")
    return "\n".join(lines)


def measure_all(case_path, sizes: tuple[int, ...], iterations: int) -> list[MarketScalingResult]:
    problem = problem_from_case(read_case(case_path))
    network = CommunicationNetwork.named("ring", [a.name for a in problem.agents])
    base = float(run(problem, network, "centralized").objective)
    return [measure_market(case_path, copies, iterations, base) for copies in sizes]


__all__ = ["MarketScalingResult", "market_table", "measure_all"]

"""Finite-time exact averaging on rings (ecodec.network.ring_averaging) and its use as the start of aggregative
tracking and DELTA.

Independent references: the mean computed by math.fsum, the arc sums recomputed by brute force from the positions,
the round counts n (m = 2n) and 3n (m = 2n + 1) published by Falsone, Margellos, Garatti and Prandini (arXiv
1608.08358), message counts derived by hand from the matchings, the centralized optimum of a small market, and the
in-process run for the MPI one.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import openpyxl
import pytest

from ecodec.cli import main
from ecodec.decomposition import StoppingRules, options_for, run
from ecodec.decomposition.aggregative_tracking import AggregativeTracking
from ecodec.decomposition.delta import Delta
from ecodec.decomposition.options import OptionError
from ecodec.errors import EcodecError, NetworkError
from ecodec.io.workbook import read_case
from ecodec.models import Buyer, Seller
from ecodec.models.base import TimeGrid
from ecodec.network import CommunicationNetwork
from ecodec.network.ring_averaging import RingAveraging, ring_order
from ecodec.problem import AggregativeProblem, problem_from_case
from ecodec.results import compare, load_runs
from ecodec.runtime import InProcessRuntime

SIZES = range(2, 102)
SEEDS = (0, 1, 2)
MARKET = "cases/community_market_demand.xlsx"


def names(m: int) -> list[str]:
    return [f"a{i}" for i in range(m)]


def fsum_mean(values: np.ndarray) -> np.ndarray:
    """The mean of each column, summed exactly (math.fsum) and rounded once."""
    columns = values.reshape(values.shape[0], -1).T
    return np.array([math.fsum(c) / values.shape[0] for c in columns]).reshape(values.shape[1:])


@pytest.fixture(scope="module")
def schedules() -> dict[int, RingAveraging]:
    return {m: RingAveraging(names(m)) for m in SIZES}


def test_every_ring_of_2_to_101_agents_ends_with_the_exact_mean(schedules):
    for m, ring in schedules.items():
        for seed in SEEDS:
            rng = np.random.default_rng([seed, m])
            for values in (rng.uniform(1.0, 2.0, m), rng.normal(3.0, 1.0, (m, 4))):
                out = ring.average(values)
                expected = fsum_mean(values)
                assert out.shape == values.shape
                # every agent's output, every coordinate: relative error 1e-12 of the exact mean
                assert np.max(np.abs(out - expected) / np.abs(expected)) <= 1e-12, (m, seed)


def odd_rounds(m: int) -> int:
    """The measured round count of the odd-m schedule (module docstring of ecodec.network.ring_averaging)."""
    return 3 if m == 3 else 3 * (m // 2) // 2 + 1


def test_round_counts_against_the_published_bounds(schedules):
    for m, ring in schedules.items():
        n = m // 2
        if m % 2 == 0:
            assert ring.n_rounds == n, m  # the paper's n rounds for m = 2n, attained exactly
        else:
            # the documented count of the odd-m variant: 3 for m = 3, floor(3n/2) + 1 from m = 5; within the 3n bound
            assert ring.n_rounds == odd_rounds(m), m
            assert ring.n_rounds <= 3 * n
    assert RingAveraging(["only"]).n_rounds == 0
    assert RingAveraging(["only"]).average([7.5]).tolist() == [7.5]


def test_every_round_is_a_matching_of_ring_neighbours(schedules):
    for m, ring in schedules.items():
        for r in range(ring.n_rounds):
            pairs = ring.matching(r)
            talking = [name for pair in pairs for name in pair]
            assert len(talking) == len(set(talking)), (m, r)  # every agent in at most one pair
            for a, b in pairs:
                assert (ring.position[b] - ring.position[a]) % m == 1  # (j, j+1 mod m): ring neighbours
            graph = ring.active_graph(r)
            assert all(graph.degree(name) <= 1 for name in ring.order)


def test_arc_sums_are_disjoint_arcs_covering_everyone_else(schedules):
    """Each R_j, L_j equals the brute-force sum over its arc, and the two arcs hold m - 1 distinct agents."""
    for m in (2, 3, 4, 5, 8, 11, 20, 21, 50, 51):
        ring = schedules[m]
        values = np.random.default_rng(m).uniform(size=m) + 2.0 ** np.arange(m)  # distinct sums for distinct arcs
        states = {name: ring.start(values[j]) for j, name in enumerate(ring.order)}
        for r in range(ring.n_rounds):
            sent = {name: ring.message(r, name, states[name]) for name in ring.order}
            graph = ring.active_graph(r)
            for name in ring.order:
                ring.receive(r, name, states[name], {b: sent[b] for b in graph.neighbours(name)})
        for j, name in enumerate(ring.order):
            right, left = ring.arc_lengths[j]
            assert right + left == m - 1
            covered = {(j + i) % m for i in range(1, right + 1)} | {(j - i) % m for i in range(1, left + 1)}
            assert len(covered) == m - 1 and j not in covered
            assert states[name].right == pytest.approx(sum(values[(j + i) % m] for i in range(1, right + 1)),
                                                       rel=1e-14)
            assert states[name].left == pytest.approx(sum(values[(j - i) % m] for i in range(1, left + 1)),
                                                      rel=1e-14)


def exchanged_average(ring: RingAveraging, network: CommunicationNetwork, values: np.ndarray):
    """The averaging run through a runtime's exchange, as a method runs it; returns (outputs, runtime)."""
    runtime = InProcessRuntime(network)
    states = runtime.each(lambda name: ring.start(values[network.index(name)]))
    for r in range(ring.n_rounds):
        sent = runtime.each(lambda name: ring.message(r, name, states[name]))
        assert all(np.size(v) in (0, values.shape[1]) for v in sent.values())  # one scalar per coordinate
        inbox = runtime.exchange(sent, ring.active_graph(r))
        runtime.each(lambda name: ring.receive(r, name, states[name], inbox[name]))
    return np.stack([ring.result(states[name]) for name in network.agents]), runtime


@pytest.mark.parametrize("m", [2, 3, 6, 7, 12, 13])
def test_messages_are_one_scalar_per_coordinate_along_the_matchings(m):
    network = CommunicationNetwork.named("ring", names(m))
    ring = RingAveraging.from_network(network)
    d = 3
    values = np.random.default_rng(m).normal(size=(m, d))
    out, runtime = exchanged_average(ring, network, values)
    assert np.max(np.abs(out - fsum_mean(values))) <= 1e-12 * np.max(np.abs(values))
    positions = [ring.position[name] for name in network.agents]
    assert np.array_equal(out, ring.average(values[np.argsort(positions)])[positions])  # the same additions
    edges = sum(len(ring.matching(r)) for r in range(ring.n_rounds))
    assert runtime.totals() == (2 * edges, 2 * edges * d)  # both directions of each matched edge, d floats each
    n = m // 2
    if m % 2 == 0:
        assert edges == n * n  # n rounds of n edges (e_j with j even, then odd)
    assert ring.useful_messages <= 2 * edges


def test_the_ring_order_comes_from_the_graph():
    rng = np.random.default_rng(4)
    cycle = [f"n{i}" for i in rng.permutation(9)]
    agents = sorted(cycle)
    network = CommunicationNetwork.from_edges(agents, list(zip(cycle, cycle[1:] + cycle[:1])))
    order = ring_order(network)
    assert sorted(order) == agents and order[0] == agents[0]
    edges = set(network.edges)
    for a, b in zip(order, order[1:] + order[:1]):
        assert tuple(sorted((a, b), key=network.index)) in edges
    ring = RingAveraging.from_network(network)
    values = rng.normal(size=(9, 2))
    out, _ = exchanged_average(ring, network, values)
    assert np.max(np.abs(out - fsum_mean(values))) <= 1e-12 * np.max(np.abs(values))
    assert ring_order(CommunicationNetwork.named("ring", names(5))) == tuple(names(5))


def test_a_network_that_is_not_one_cycle_is_refused():
    star = CommunicationNetwork.from_edges(names(4), [("a0", "a1"), ("a0", "a2"), ("a0", "a3")])
    chord = CommunicationNetwork.from_edges(names(4), [("a0", "a1"), ("a1", "a2"), ("a2", "a3"), ("a3", "a0"),
                                                       ("a0", "a2")])
    for network, agent in ((CommunicationNetwork.named("path", names(4)), "'a0' (1)"),
                           (CommunicationNetwork.named("complete", names(4)), "'a0' (3)"), (star, "'a0' (3)"),
                           (chord, "'a0' (3)")):
        with pytest.raises(NetworkError, match="one cycle through every agent") as error:
            RingAveraging.from_network(network)
        assert network.describe() in str(error.value) and agent in str(error.value)
    assert issubclass(NetworkError, EcodecError)
    ring = RingAveraging(names(4))
    with pytest.raises(EcodecError, match=r"shape \(4,\) or \(4, d\), got shape \(3,\)"):
        ring.average([1.0, 2.0, 3.0])
    with pytest.raises(EcodecError, match="finite"):
        ring.average([1.0, np.nan, 3.0, 4.0])
    with pytest.raises(EcodecError, match=r"round must be an integer in 0..1"):
        ring.matching(2)


def six_agent_market() -> AggregativeProblem:
    """Three buyers and three sellers, one step (the two-step market of tests/test_market.py, first step)."""
    agents = [Buyer(f"b{i}", demand_kwh=d, grid_export_price_per_kwh=0.12, grid_import_price_per_kwh=0.29,
                    weight_demand_per_kwh2=0.02) for i, d in enumerate((3.0, 6.0, 4.0))]
    agents += [Seller(f"s{j}", excess_kwh=e, weight_revenue=0.5) for j, e in enumerate((8.0, 5.0, 3.0))]
    return AggregativeProblem(agents, TimeGrid(1, 1.0), name="six")


@pytest.mark.parametrize("drop", [0, 1])  # 8 agents (even ring) and 7 (odd ring)
def test_the_ring_exact_start_gives_every_agent_the_exact_aggregate(drop):
    problem = problem_from_case(read_case(MARKET))
    problem.agents = problem.agents[drop:]
    network = CommunicationNetwork.named("ring", [a.name for a in problem.agents])
    driver = AggregativeTracking(problem, InProcessRuntime(network), options_for(
        "aggregative-tracking", {"step_size": 1e-3, "start_averaging": "ring-exact"}))
    driver.setup()
    shares = np.stack([driver.subproblems[a.name].shares(driver.subproblems[a.name].x0) for a in problem.agents])
    sigma = fsum_mean(shares)
    for agent in problem.agents:
        assert np.max(np.abs(driver.local[agent.name].s - sigma) / np.abs(sigma)) <= 1e-12
    m = len(problem.agents)
    assert driver.rounds == RingAveraging(names(m)).n_rounds == (m // 2 if m % 2 == 0 else odd_rounds(m))
    mixing = AggregativeTracking(problem, InProcessRuntime(network), options_for("aggregative-tracking", {}))
    mixing.setup()  # the default: diameter rounds of mixing leave the estimates apart
    assert max(np.max(np.abs(mixing.local[a.name].s - sigma) / np.abs(sigma)) for a in problem.agents) > 1e-3


def test_delta_takes_the_same_start():
    problem = problem_from_case(read_case(MARKET))
    network = CommunicationNetwork.named("ring", [a.name for a in problem.agents])
    driver = Delta(problem, InProcessRuntime(network), options_for("delta", {
        "start_averaging": "ring-exact", "surrogate": "quadratic"}))
    driver.setup()
    sigma = fsum_mean(np.stack([driver.subproblems[a.name].shares(driver.subproblems[a.name].x0)
                                for a in problem.agents]))
    for agent in problem.agents:
        assert np.max(np.abs(driver.local[agent.name].s - sigma) / np.abs(sigma)) <= 1e-12


def test_ring_exact_is_refused_off_a_ring_and_with_consensus_rounds():
    problem = six_agent_market()
    complete = CommunicationNetwork.named("complete", [a.name for a in problem.agents])
    with pytest.raises(OptionError, match="start_averaging 'ring-exact' needs a ring network: .*complete network"):
        run(problem, complete, "aggregative-tracking", options_for("aggregative-tracking", {
            "start_averaging": "ring-exact"}), StoppingRules(max_iterations=2))
    for method in ("aggregative-tracking", "delta"):
        with pytest.raises(OptionError, match=f"{method} option consensus_rounds must be none with start_averaging "
                                              "'ring-exact'"):
            options_for(method, {"start_averaging": "ring-exact", "consensus_rounds": 2})
        with pytest.raises(OptionError, match="start_averaging"):
            options_for(method, {"start_averaging": "exact"})



def test_the_command_line_refuses_ring_exact_off_a_ring_with_exit_code_2(tmp_path, capsys):
    code = main(["run", MARKET, "--method", "aggregative-tracking", "-O", "start_averaging=ring-exact",
                 "--max-iterations", "2", "--no-reference", "-q", "--output", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert "start_averaging 'ring-exact' needs a ring network" in err and "complete network: 8 agents" in err
    assert "'buyer_1' (7)" in err


@pytest.mark.slow
def test_a_ring_exact_start_converges_to_the_decisions_of_the_mixing_start():
    """Both starts reach the same stationary point: the centralized optimum (relative distance of the decisions
    1e-4, the acceptance of tests/test_market.py), and each other's decisions to 1e-6."""
    problem = six_agent_market()
    network = CommunicationNetwork.named("ring", [a.name for a in problem.agents])
    reference = run(problem, network, "centralized")
    runs = {start: run(problem, network, "aggregative-tracking", options_for("aggregative-tracking", {
        "step_size": 3e-3, "start_averaging": start}), StoppingRules(max_iterations=20000), reference=reference)
        for start in ("mixing", "ring-exact")}
    values = {}
    for start, result in runs.items():
        assert result.status == "converged", result.info["message"]
        assert compare([result], reference).rows[1]["distance"] < 1e-4
        values[start] = result.dispatch.set_index(["agent", "quantity", "t"])["value"].sort_index()
    a, b = values["mixing"].to_numpy(float), values["ring-exact"].to_numpy(float)
    assert np.linalg.norm(a - b) <= 1e-6 * np.linalg.norm(a)
    exact = runs["ring-exact"]
    # 6 edges both ways per iteration, plus the start: 3 rounds of 3 matched edges, both ways
    assert exact.info["messages"] == 12 * len(exact.history) + 2 * 3 * 3
    assert exact.info["consensus_rounds"] == 3
    assert exact.history["tracking_error_sigma"].iloc[0] < runs["mixing"].history["tracking_error_sigma"].iloc[0]


MPIEXEC = Path(sys.executable).with_name("mpiexec")


@pytest.mark.mpi
@pytest.mark.xdist_group("mpi")
@pytest.mark.skipif(not MPIEXEC.exists(), reason="ecodec[mpi] not installed: run 'make setup'")
def test_mpi_run_of_the_ring_exact_start_has_the_in_process_iterates(tmp_path):
    workbook = openpyxl.load_workbook(MARKET)
    meta = workbook["meta"]
    row = next(r for r in meta.iter_rows() if r[0].value == "topology")
    row[1].value = "ring"
    case = tmp_path / "market_ring.xlsx"
    workbook.save(case)
    options = ["--method", "aggregative-tracking", "--max-iterations", "200", "-O", "start_averaging=ring-exact",
               "-q"]
    assert main(["run", str(case), *options, "--output", str(tmp_path / "one")]) in (0, 1)
    done = subprocess.run([sys.executable, "-m", "ecodec", "run", str(case), *options, "--output",
                           str(tmp_path / "two"), "--ranks", "2"], capture_output=True, text=True, timeout=300,
                          env=dict(os.environ))
    assert done.returncode in (0, 1), done.stderr
    reference, result = load_runs(tmp_path / "one")[-1], load_runs(tmp_path / "two")[-1]
    assert result.info["runtime"] == "mpi (2 ranks)" and reference.info["consensus_rounds"] == 4
    columns = [c for c in reference.history.columns if c not in ("iteration_time_s", "elapsed_s")]
    a, b = reference.history[columns].to_numpy(float), result.history[columns].to_numpy(float)
    assert a.shape == b.shape
    assert np.max(np.abs(a - b) / np.maximum(np.abs(a), 1e-12)) <= 1e-9
    assert (result.info["messages"], result.info["floats_sent"]) == (reference.info["messages"],
                                                                     reference.info["floats_sent"])
    # 8 ring edges both ways per iteration, plus 4 rounds of 4 matched edges both ways at the start
    assert reference.info["messages"] == 16 * len(reference.history) + 2 * 4 * 4

"""Time-varying communication graphs: fixed, random and periodic schedules, hand-derived Metropolis weights on
active graphs, the joint connectivity (B-connectivity) window check, and refused parameters."""

from __future__ import annotations

import math
import re
from fractions import Fraction

import numpy as np
import pytest

from ecodec.errors import NetworkError
from ecodec.network import ActiveGraph, CommunicationNetwork, GraphSchedule, connected_groups

AGENTS_10 = tuple(f"a{i}" for i in range(10))
WINDOW_MESSAGE = re.compile(r"the active edges of iterations (\d+)\.\.(\d+) \(1-based\) leave the agents in (\d+) "
                            r"separate groups (\{.*\}): the jointly connected assumption fails for this window")


def _exact(rows: list[list[Fraction]]) -> np.ndarray:
    return np.array([[float(x) for x in row] for row in rows])


@pytest.mark.parametrize("network", [CommunicationNetwork.named("ring", AGENTS_10),
                                     CommunicationNetwork.named("erdos_renyi", AGENTS_10, edge_probability=0.4,
                                                                seed=1)])
def test_fixed_mode_is_the_base_network_at_every_iteration(network):
    schedule = GraphSchedule(network)
    assert schedule.is_fixed and schedule.window == 1
    for k in (0, 1, 7, 1000):
        graph = schedule.at(k)
        assert graph.edges == network.edges and graph.n_edges == network.n_edges
        np.testing.assert_array_equal(graph.metropolis_weights(), network.metropolis_weights())
        for name in network.agents:
            assert graph.neighbours(name) == network.neighbours(name)
            assert graph.weights_of(name) == pytest.approx(network.weights_of(name), abs=1e-15)
        assert schedule.window_check(k) is None
    assert schedule.describe() == f"fixed edges over {network.describe()}"


def test_random_mode_draws_one_uniform_per_base_edge_from_seed_and_iteration():
    """The documented contract (every MPI rank relies on it): iteration k uses default_rng([seed, k]), one draw per
    base edge in base edge order, edge active iff draw < p."""
    network = CommunicationNetwork.named("complete", AGENTS_10)
    schedule = GraphSchedule(network, "random", edge_probability=0.3, seed=7)
    for k in (0, 1, 2, 50):
        draws = np.random.default_rng([7, k]).random(network.n_edges)
        expected = tuple(edge for edge, u in zip(network.edges, draws) if u < 0.3)
        assert schedule.at(k).edges == expected


def test_random_mode_is_reproducible_and_independent_of_call_order():
    network = CommunicationNetwork.named("complete", AGENTS_10)

    def sequence(seed, order=range(6)):
        schedule = GraphSchedule(network, "random", edge_probability=0.5, seed=seed)
        graphs = {k: schedule.at(k).edges for k in order}
        return [graphs[k] for k in range(6)]

    assert sequence(3) == sequence(3)
    assert sequence(3, order=[5, 0, 1, 2, 3, 4, 5]) == sequence(3)
    assert sequence(4) != sequence(3)
    assert len(set(sequence(3))) > 1  # the graph changes from one iteration to the next


def test_random_mode_activates_each_edge_with_probability_p():
    """2000 iterations of 45 edges with p = 0.3: the active fraction is a binomial proportion with standard
    deviation sqrt(p (1 - p) / n); allow 5 of them, overall (n = 90000) and per edge (n = 2000)."""
    network = CommunicationNetwork.named("complete", AGENTS_10)
    p, iterations = 0.3, 2000
    schedule = GraphSchedule(network, "random", edge_probability=p, seed=11)
    counts = dict.fromkeys(network.edges, 0)
    for k in range(iterations):
        for edge in schedule.at(k).edges:
            counts[edge] += 1
    total = sum(counts.values()) / (iterations * network.n_edges)
    assert abs(total - p) < 5 * math.sqrt(p * (1 - p) / (iterations * network.n_edges))
    per_edge = 5 * math.sqrt(p * (1 - p) / iterations)
    assert all(abs(count / iterations - p) < per_edge for count in counts.values())


def test_random_mode_with_p_one_is_every_edge():
    network = CommunicationNetwork.named("ring", AGENTS_10)
    schedule = GraphSchedule(network, "random", edge_probability=1.0, seed=5)
    assert schedule.is_fixed and not GraphSchedule(network, "random", edge_probability=0.99).is_fixed
    assert all(schedule.at(k).edges == network.edges for k in range(30))
    assert schedule.describe() == f"random edges (p=1, seed 5, window 20) over {network.describe()}"


def test_periodic_mode_on_a_ring_of_four():
    """Ring a-b-c-d-a; normalised base edges in order: 0 (a,b), 1 (a,d), 2 (b,c), 3 (c,d).  Period 2: edges 0
    and 2 at even k, edges 1 and 3 at odd k.  At k = 0 the active graph is the path a-b-c with d isolated."""
    network = CommunicationNetwork.named("ring", ["a", "b", "c", "d"])
    assert network.edges == (("a", "b"), ("a", "d"), ("b", "c"), ("c", "d"))
    schedule = GraphSchedule(network, "periodic", period=2)
    even, odd = (("a", "b"), ("b", "c")), (("a", "d"), ("c", "d"))
    assert [schedule.at(k).edges for k in range(5)] == [even, odd, even, odd, even]
    assert set(schedule.at(0).edges) | set(schedule.at(1).edges) == set(network.edges)
    assert schedule.at(0).neighbours("d") == () and schedule.at(0).neighbours("b") == ("a", "c")
    assert schedule.at(1).neighbours("a") == ("d",)
    assert schedule.window == 2 and not schedule.is_fixed
    assert all(schedule.window_check(k) is None for k in range(10))
    assert schedule.describe() == f"periodic edges (period 2, window 2) over {network.describe()}"


def test_periodic_union_over_a_period_is_the_base_network():
    network = CommunicationNetwork.named("erdos_renyi", AGENTS_10, edge_probability=0.5, seed=3)
    schedule = GraphSchedule(network, "periodic", period=4)
    for start in (0, 1, 6):
        graphs = [set(schedule.at(k).edges) for k in range(start, start + 4)]
        assert set().union(*graphs) == set(network.edges)
        assert sum(len(g) for g in graphs) == network.n_edges  # the 4 graphs partition the edges


def test_periodic_window_shorter_than_the_period():
    """Triangle a, b, c with edges 0 (a,b), 1 (a,c), 2 (b,c), period 3: any 2 consecutive graphs hold two edges,
    which connect the triangle, so window 2 is accepted.  On the ring of four with period 2, window 1 is the single
    graph of k = 0, the path a-b-c and the isolated d: refused."""
    triangle = CommunicationNetwork.named("complete", ["a", "b", "c"])
    assert GraphSchedule(triangle, "periodic", period=3, window=2).window == 2
    ring = CommunicationNetwork.named("ring", ["a", "b", "c", "d"])
    with pytest.raises(NetworkError) as err:
        GraphSchedule(ring, "periodic", period=2, window=1)
    message = str(err.value)
    assert "periodic edges (period 2, window 1)" in message
    assert "iterations 1..1 (1-based) leave the agents in 2 separate groups {a, b, c} | {d}" in message
    assert "window >= the period (2)" in message
    # Complete graph on a..d, edges 0 ab, 1 ac, 2 ad, 3 bc, 4 bd, 5 cd; period 4 puts {ab, bd}, {ac, cd}, {ad}, {bc}
    # at k = 0, 1, 2, 3 (mod 4).  Window 2: iterations 1..2 join every agent, but iterations 3..4 only a-d and b-c.
    complete = CommunicationNetwork.named("complete", ["a", "b", "c", "d"])
    with pytest.raises(NetworkError, match=r"iterations 3\.\.4 \(1-based\) leave the agents in 2 separate groups "
                                           r"\{a, d\} \| \{b, c\}"):
        GraphSchedule(complete, "periodic", period=4, window=2)
    assert GraphSchedule(complete, "periodic", period=4, window=3).window == 3


def test_metropolis_weights_of_a_hand_drawn_active_graph():
    """Agents a..e, active edges a-b, a-c, b-c, c-d, e isolated: degrees a 2, b 2, c 3, d 1, e 0.

    w_ab = 1/(1+2) = 1/3;  w_ac = w_bc = w_cd = 1/(1+3) = 1/4;
    w_aa = w_bb = 1 - 1/3 - 1/4 = 5/12;  w_cc = 1 - 3/4 = 1/4;  w_dd = 1 - 1/4 = 3/4;  w_ee = 1.
    """
    graph = ActiveGraph(("a", "b", "c", "d", "e"), (("c", "a"), ("a", "b"), ("b", "c"), ("d", "c"), ("a", "b")))
    assert graph.edges == (("a", "b"), ("a", "c"), ("b", "c"), ("c", "d")) and graph.n_edges == 4
    assert [graph.degree(x) for x in graph.agents] == [2, 2, 3, 1, 0]
    t, q, f = Fraction(1, 3), Fraction(1, 4), Fraction(5, 12)
    expected = _exact([[f, t, q, 0, 0], [t, f, q, 0, 0], [q, q, q, q, 0], [0, 0, q, 1 - q, 0], [0, 0, 0, 0, 1]])
    weights = graph.metropolis_weights()
    np.testing.assert_allclose(weights, expected, rtol=0, atol=1e-15)
    np.testing.assert_array_equal(weights, weights.T)
    np.testing.assert_allclose(weights.sum(axis=0), 1.0, atol=1e-15)
    np.testing.assert_allclose(weights.sum(axis=1), 1.0, atol=1e-15)
    assert graph.weights_of("e") == {"e": 1.0} and graph.neighbours("e") == ()
    assert graph.weights_of("d") == {"c": 0.25, "d": 0.75}
    assert list(graph.weights_of("c")) == ["a", "b", "c", "d"]  # agent order, self included
    for i, name in enumerate(graph.agents):
        row = {agent: float(w) for agent, w in zip(graph.agents, weights[i]) if w != 0.0}
        assert graph.weights_of(name) == pytest.approx(row, abs=1e-15) and graph.weights_of(name).keys() == row.keys()
    with pytest.raises(NetworkError, match="unknown agent 'z'"):
        graph.weights_of("z")
    with pytest.raises(NetworkError, match="two different agents"):
        ActiveGraph(("a", "b"), (("a", "x"),))


def test_consensus_over_random_active_graphs_keeps_the_average_and_reaches_it():
    """Each W(k) is doubly stochastic, so x <- W(k) x keeps the average at every step, isolated agents included;
    the ring's edges are active half of the time, so the union of many iterations is connected and x converges."""
    network = CommunicationNetwork.named("ring", AGENTS_10)
    schedule = GraphSchedule(network, "random", edge_probability=0.5, seed=2)
    x = np.random.default_rng(0).uniform(-50.0, 50.0, size=10)
    average = x.mean()
    for k in range(1500):
        weights = schedule.at(k).metropolis_weights()
        np.testing.assert_allclose(weights.sum(axis=0), 1.0, atol=1e-14)
        x = weights @ x
        assert x.mean() == pytest.approx(average, abs=1e-11)
    np.testing.assert_allclose(x, average, rtol=0, atol=1e-9)


def test_window_check_reports_disconnected_windows():
    """A path of ten with p = 0.05 and window 2: the union of two graphs misses some path edge almost always.
    Each message is checked against the components of the union computed here from at(k - 1) and at(k)."""
    network = CommunicationNetwork.named("path", AGENTS_10)
    schedule = GraphSchedule(network, "random", edge_probability=0.05, seed=1, window=2)
    reports = {}
    for k in range(200):
        message = schedule.window_check(k)
        if k % 2 == 0:
            assert message is None
        elif message is not None:
            reports[k] = message
    assert len(reports) > 50
    for k, message in reports.items():
        match = WINDOW_MESSAGE.fullmatch(message)
        assert match, message
        assert (int(match[1]), int(match[2])) == (k, k + 1)  # 1-based iterations k-1+1 .. k+1
        groups = connected_groups(network.agents, schedule.at(k - 1).edges + schedule.at(k).edges)
        assert int(match[3]) == len(groups) > 1
    full = GraphSchedule(network, "random", edge_probability=1.0, window=2)
    assert all(full.window_check(k) is None for k in range(50))


def test_window_check_draws_the_iterations_it_was_not_given():
    """Calling window_check only at each window's last iteration gives the same answers as calling it at every
    iteration: the skipped iterations' edges still count in the union."""
    network = CommunicationNetwork.named("ring", AGENTS_10)

    def schedule():
        return GraphSchedule(network, "random", edge_probability=0.2, seed=4, window=5)

    every, last_only = schedule(), schedule()
    full = [every.window_check(k) for k in range(100)]
    sparse = [last_only.window_check(k) if k % 5 == 4 else None for k in range(100)]
    assert full == sparse
    again = schedule()
    assert [again.window_check(k) for k in range(5)] + [again.window_check(4)] == full[:5] + [full[4]]
    assert any(m is not None for m in full) and any(m is None for m in full[4::5])


def test_at_caches_the_last_graph():
    schedule = GraphSchedule(CommunicationNetwork.named("ring", AGENTS_10), "random", seed=1)
    assert schedule.at(3) is schedule.at(3)
    assert schedule.window_check(3) is None and schedule.at(3) is schedule.at(3)


@pytest.mark.parametrize("kwargs, fragment", [
    ({"mode": "sometimes"}, "unknown time-varying mode 'sometimes'; expected one of fixed, random, periodic"),
    ({"mode": "random", "edge_probability": 0.0}, r"edge_probability must be a number in \(0, 1\], got 0.0"),
    ({"mode": "random", "edge_probability": 1.5}, r"edge_probability .* got 1.5"),
    ({"mode": "random", "seed": -1}, "seed must be an integer >= 0, got -1"),
    ({"mode": "random", "seed": 2.5}, "seed must be an integer >= 0, got 2.5"),
    ({"mode": "periodic", "period": 1}, "period must be an integer >= 2 for mode 'periodic', got 1"),
    ({"mode": "random", "window": 0}, "window must be an integer >= 1, got 0"),
    ({"mode": "periodic", "window": True}, "window must be an integer >= 1, got True"),
])
def test_invalid_schedules_are_refused(kwargs, fragment):
    with pytest.raises(NetworkError, match=fragment):
        GraphSchedule(CommunicationNetwork.named("ring", AGENTS_10), **kwargs)


def test_negative_iteration_is_refused():
    schedule = GraphSchedule(CommunicationNetwork.named("ring", AGENTS_10), "random")
    with pytest.raises(NetworkError, match="iteration k must be an integer >= 0, got -1"):
        schedule.at(-1)
    with pytest.raises(NetworkError, match="got -2"):
        schedule.window_check(-2)

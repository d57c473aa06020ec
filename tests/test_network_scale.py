"""The network layer at fleet scale: the sparse, cached Metropolis rows against the formula written out here from
the edge list, the exact diameter against all-pairs breadth-first search, connectivity against networkx, and a
10,000-agent network of the pev benchmark's topology (G(N, p) with p = 3 ln(N) / N) answering its queries."""

from __future__ import annotations

import dataclasses
import math
import re

import networkx as nx
import numpy as np
import pytest

from ecodec.errors import NetworkError
from ecodec.network import CommunicationNetwork, GraphSchedule, connected_groups
from ecodec.network.sparse_graph import gnp_pairs, hop_diameter
from ecodec.runtime.inprocess import InProcessRuntime


def _reference_weights(names: list[str], edges: list[tuple[str, str]]) -> np.ndarray:
    """Metropolis-Hastings from the definition: w_ij = 1 / (1 + max(d_i, d_j)) on edges, w_ii = 1 - sum_j w_ij."""
    position = {name: k for k, name in enumerate(names)}
    degree = np.zeros(len(names), dtype=int)
    for a, b in edges:
        degree[position[a]] += 1
        degree[position[b]] += 1
    weights = np.zeros((len(names), len(names)))
    for a, b in edges:
        i, j = position[a], position[b]
        weights[i, j] = weights[j, i] = 1.0 / (1.0 + max(degree[i], degree[j]))
    for i in range(len(names)):
        weights[i, i] = 1.0 - sum(weights[i, j] for j in range(len(names)) if j != i)
    return weights


def _graphs():
    """Random graphs of several topologies, each relabelled to shuffled agent names, with its edge list."""
    drawn = [nx.gnp_random_graph(60, 0.12, seed=0), nx.barabasi_albert_graph(80, 2, seed=2),
             nx.connected_watts_strogatz_graph(70, 4, 0.2, seed=3), nx.random_labeled_tree(50, seed=4),
             nx.random_regular_graph(3, 40, seed=5), nx.grid_2d_graph(6, 9), nx.star_graph(30), nx.cycle_graph(41)]
    rng = np.random.default_rng(0)
    for graph in drawn:
        graph = nx.convert_node_labels_to_integers(graph)
        assert nx.is_connected(graph)
        names = [f"ev{k}" for k in rng.permutation(graph.number_of_nodes())]
        edges = [(names[a], names[b]) if rng.random() < 0.5 else (names[b], names[a]) for a, b in graph.edges()]
        yield names, [edges[k] for k in rng.permutation(len(edges))]


GRAPHS = list(_graphs())


def _check_rows(graph, names, edges):
    reference = _reference_weights(names, edges)
    np.testing.assert_allclose(reference.sum(axis=1), 1.0, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(reference, reference.T)
    dense = graph.metropolis_weights()
    np.testing.assert_allclose(dense, reference, rtol=0, atol=1e-15)
    for i, name in enumerate(names):
        row = graph.weights_of(name)
        expected = {names[j]: reference[i, j] for j in range(len(names)) if reference[i, j] != 0.0}
        assert list(row) == sorted(expected, key=names.index)  # agent order, self included
        assert row == pytest.approx(expected, abs=1e-15)
        assert row == {names[j]: dense[i, j] for j in np.flatnonzero(dense[i])}  # the same numbers, exactly
        assert math.fsum(row.values()) == pytest.approx(1.0, abs=1e-15)


@pytest.mark.parametrize("case", range(4))
def test_mix_is_every_agents_weighted_sum_added_in_agent_order(case):
    """The runtime's mix against each agent's sum written out over its row of weights_of (agent order, self
    included: 0 + w_1 v_1 + w_2 v_2 + ...), bit for bit, on the fixed network and on active graphs of a random
    schedule, with values whose sum depends on the order of the additions; counted as the same exchange."""
    names, edges = GRAPHS[case]
    network = CommunicationNetwork.from_edges(names, edges)
    schedule = GraphSchedule(network, "random", edge_probability=0.4, seed=case)
    rng = np.random.default_rng(case)
    order_matters = 0
    for k, graph in enumerate([None, schedule.at(1), schedule.at(2), network]):
        shape = [(3,), (2, 4), (), (5,)][k]
        values = {name: rng.choice([1e16, -1e16, 1.0, 3.0, -7.0], size=shape) * rng.random(shape) for name in names}
        mixing, exchanging = InProcessRuntime(network), InProcessRuntime(network)
        mixed = mixing.mix(values, graph)
        exchanging.exchange(values, graph)
        assert mixing.totals() == exchanging.totals()
        active = graph or network
        assert mixing.totals()[0] == 2 * active.n_edges
        for name in names:
            row, by_hand = active.weights_of(name), np.zeros(shape)
            for j, w in row.items():
                by_hand = by_hand + w * values[j]
            assert mixed[name].shape == shape and mixed[name].tobytes() == by_hand.tobytes(), (k, name)
            backwards = np.zeros(shape)
            for j in reversed(row):
                backwards = backwards + row[j] * values[j]
            order_matters += backwards.tobytes() != by_hand.tobytes()
        summed = InProcessRuntime(network).mix(values, graph, "adjacency")  # the neighbours' values, added in order
        for name in names:
            by_hand = np.zeros(shape)
            for j in active.neighbours(name):
                by_hand = by_hand + values[j]
            assert summed[name].tobytes() == by_hand.tobytes(), (k, name)
    assert order_matters > 0
    with pytest.raises(ValueError, match="unknown mix weights 'laplacian'; expected one of metropolis, adjacency"):
        InProcessRuntime(network).mix(values, None, "laplacian")


@pytest.mark.parametrize("case", range(len(GRAPHS)))
def test_sparse_rows_are_the_metropolis_hastings_formula(case):
    names, edges = GRAPHS[case]
    network = CommunicationNetwork.from_edges(names, edges)
    _check_rows(network, names, edges)
    first = network.weights_of(names[0])
    first[names[0]] = -1.0  # the caller's copy: the kept row is not changed
    assert network.weights_of(names[0])[names[0]] > 0.0


@pytest.mark.parametrize("mode,kwargs", [("random", {"edge_probability": 0.4, "seed": 3}),
                                         ("random", {"edge_probability": 0.7, "seed": 11}),
                                         ("periodic", {"period": 3, "window": 3})])
def test_active_graph_rows_are_the_formula_on_the_drawn_edges(mode, kwargs):
    names, edges = GRAPHS[0]
    network = CommunicationNetwork.from_edges(names, edges)
    schedule = GraphSchedule(network, mode, **kwargs)
    for k in (0, 1, 2, 7):
        if mode == "random":  # the documented draw: default_rng([seed, k]), one uniform per base edge
            keep = np.random.default_rng([kwargs["seed"], k]).random(network.n_edges) < kwargs["edge_probability"]
        else:
            keep = np.arange(network.n_edges) % kwargs["period"] == k % kwargs["period"]
        active = [edge for edge, on in zip(network.edges, keep) if on]
        graph = schedule.at(k)
        assert graph.edges == tuple(active)
        _check_rows(graph, names, active)
    assert schedule.base.weights_of(names[3]) == network.weights_of(names[3])


@pytest.mark.parametrize("case", range(len(GRAPHS)))
def test_diameter_is_the_all_pairs_value(case):
    names, edges = GRAPHS[case]
    network = CommunicationNetwork.from_edges(names, edges)
    reference = nx.Graph(edges)
    all_pairs = max(max(lengths.values()) for _, lengths in nx.all_pairs_shortest_path_length(reference))
    assert network.diameter == all_pairs == nx.diameter(reference, usebounds=True)
    pairs = np.array([(names.index(a), names.index(b)) for a, b in edges])
    assert hop_diameter(len(names), pairs, block_words=1) == all_pairs  # several blocks of 64 sources
    assert network.describe() == f"custom network: {len(names)} agents, {len(edges)} edges, diameter {all_pairs}"


def test_diameter_of_named_topologies_and_long_graphs():
    for n in (1, 2, 3, 4, 65, 130):
        agents = [f"a{i}" for i in range(n)]
        for topology in ("path", "ring", "complete"):
            network = CommunicationNetwork.named(topology, agents)
            assert network.diameter == (nx.diameter(network.graph) if n > 1 else 0)
    caterpillar = nx.random_labeled_tree(300, seed=9)
    caterpillar.add_edges_from([(0, 150), (10, 290)])  # neither a tree nor a cycle: the bit-parallel search
    pairs = np.array(list(caterpillar.edges()))
    assert hop_diameter(300, pairs) == nx.diameter(caterpillar)
    with pytest.raises(NetworkError, match="disconnected"):
        hop_diameter(4, np.array([[0, 1], [2, 3]]))


def test_the_network_is_immutable_and_its_answers_are_kept():
    names, edges = GRAPHS[1]
    network = CommunicationNetwork.from_edges(names, edges)
    with pytest.raises(dataclasses.FrozenInstanceError):
        network.edges = ()
    with pytest.raises(dataclasses.FrozenInstanceError):
        network.agents = ()
    text = network.describe()
    assert network.describe() is not None and network.describe() == text
    assert "diameter" in vars(network)  # computed once, then read
    assert network.graph is not network.graph  # callers get their own networkx copy


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_connected_groups_are_networkx_components(seed):
    graph = nx.gnp_random_graph(120, 0.012, seed=seed)
    names = [f"n{k:03d}" for k in range(120)]
    edges = [(names[a], names[b]) for a, b in graph.edges()]
    expected = sorted((tuple(sorted(names[k] for k in c)) for c in nx.connected_components(graph)),
                      key=lambda g: (-len(g), g))
    assert connected_groups(names, edges) == expected
    if len(expected) > 1:
        with pytest.raises(NetworkError, match=f"disconnected: {len(expected)} separate groups"):
            CommunicationNetwork.from_edges(names, edges)


def test_a_window_union_check_names_the_groups_as_networkx_finds_them():
    network = CommunicationNetwork.named("ring", [f"a{i}" for i in range(12)])
    schedule = GraphSchedule(network, "random", edge_probability=0.2, seed=4, window=1)
    for k in range(6):
        message = schedule.window_check(k)
        active = nx.Graph(schedule.at(k).edges)
        active.add_nodes_from(network.agents)
        parts = nx.number_connected_components(active)
        assert (message is None) == (parts == 1)
        if message is not None:
            assert f"leave the agents in {parts} separate groups" in message


def test_a_ten_thousand_agent_fleet_network_builds_and_answers():
    n = 10_000
    p = 3.0 * math.log(n) / n  # the pev benchmark's edge probability
    drawn = nx.fast_gnp_random_graph(n, p, seed=5)
    assert nx.is_connected(drawn)
    names = [f"ev{k + 1}" for k in range(n)]
    network = CommunicationNetwork.from_edges(names, [(names[a], names[b]) for a, b in drawn.edges()],
                                              topology="sheet")
    assert network.n_agents == n and network.n_edges == drawn.number_of_edges()
    for k in range(0, n, 997):
        name, degree = names[k], drawn.degree(k)
        row = network.weights_of(name)
        expected = {names[j]: 1.0 / (1.0 + max(degree, drawn.degree(j))) for j in drawn.neighbors(k)}
        assert len(row) == degree + 1 and row[name] == pytest.approx(1.0 - sum(expected.values()), abs=1e-14)
        assert {a: w for a, w in row.items() if a != name} == pytest.approx(expected, abs=1e-15)
    eccentricities = [max(nx.single_source_shortest_path_length(drawn, k).values()) for k in range(0, n, 2500)]
    match = re.fullmatch(rf"sheet network: 10000 agents, {network.n_edges} edges, diameter (\d+)", network.describe())
    assert match is not None
    assert max(eccentricities) <= int(match.group(1)) <= 2 * min(eccentricities)  # ecc(v) <= D <= 2 ecc(v)
    schedule = GraphSchedule(network, "random", edge_probability=0.5, seed=1, window=2)
    assert schedule.window_check(0) is None and schedule.window_check(1) is None  # p = 1/2 over 2 draws: connected
    active = schedule.at(1)
    assert all(set(active.neighbours(a)) <= set(network.neighbours(a)) for a in names[::500])
    assert schedule.describe() == f"random edges (p=0.5, seed 1, window 2) over {network.describe()}"


@pytest.mark.parametrize("n,p,seed,block", [(0, 0.3, 0, 8), (2, 0.5, 3, 8), (30, 0.2, 5, 7), (200, 0.05, 11, 100),
                                            (300, 0.04, 2, 1 << 22), (40, 1.0, 0, 8), (90, 0.5, 2**40 + 3, 1000)])
def test_erdos_renyi_draws_are_networkx_gnp_random_graph(n, p, seed, block):
    """The bulk draw is networkx's graph for the same seed, across block boundaries and for seeds above 2^32."""
    reference = [tuple(edge) for edge in nx.gnp_random_graph(n, p, seed=seed).edges()]
    assert [tuple(edge) for edge in gnp_pairs(n, p, seed, block).tolist()] == reference


@pytest.mark.parametrize("p,seed", [(0.05, 0), (0.05, 4), (0.05, 9), (0.01, 1)])
def test_named_erdos_renyi_is_the_networkx_draw(p, seed):
    agents = [f"a{i}" for i in range(150)]
    drawn = nx.gnp_random_graph(150, p, seed=seed)
    expected = nx.relabel_nodes(drawn, dict(enumerate(agents)))
    if nx.is_connected(drawn):
        network = CommunicationNetwork.named("erdos_renyi", agents, edge_probability=p, seed=seed)
        assert nx.utils.graphs_equal(network.graph, expected) and network.n_edges == drawn.number_of_edges()
    else:
        with pytest.raises(NetworkError, match=f"{nx.number_connected_components(drawn)} separate groups"):
            CommunicationNetwork.named("erdos_renyi", agents, edge_probability=p, seed=seed)

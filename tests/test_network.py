"""Communication networks: hand-derived Metropolis-Hastings weights, Laplacian spectra, consensus, Erdos-Renyi draws,
rejected graphs, and the graph of the shipped case and of workbooks."""

from __future__ import annotations

import copy
import dataclasses
import itertools
from fractions import Fraction
from pathlib import Path

import networkx as nx
import numpy as np
import openpyxl
import pytest

from ecodec.case import AgentSpec, Case
from ecodec.errors import CaseError, NetworkError
from ecodec.io.template import example_tables, write_case_workbook
from ecodec.io.workbook import read_case
from ecodec.network import CommunicationNetwork, network_from_case

CASES = Path(__file__).resolve().parents[1] / "cases"
AGENTS_10 = tuple(f"a{i}" for i in range(10))


def _exact(rows: list[list[Fraction]]) -> np.ndarray:
    return np.array([[float(x) for x in row] for row in rows])


def _assert_consensus_matrix(weights: np.ndarray, network: CommunicationNetwork) -> None:
    """Symmetric, rows and columns summing to 1, nonnegative, nonzero off the diagonal exactly on the edges."""
    np.testing.assert_array_equal(weights, weights.T)
    np.testing.assert_allclose(weights.sum(axis=0), 1.0, atol=1e-14)
    np.testing.assert_allclose(weights.sum(axis=1), 1.0, atol=1e-14)
    assert np.all(weights >= 0.0)
    adjacency = -network.laplacian()
    np.fill_diagonal(adjacency, 0.0)
    off_diagonal = weights - np.diag(np.diag(weights))
    np.testing.assert_array_equal(off_diagonal > 0, adjacency > 0)


def test_metropolis_weights_of_a_path_of_three():
    """Path a - b - c: degrees d_a = 1, d_b = 2, d_c = 1.

    w_ab = w_bc = 1 / (1 + max(1, 2)) = 1/3;  w_ac = 0 (no edge);
    w_aa = 1 - 1/3 = 2/3,  w_bb = 1 - 1/3 - 1/3 = 1/3,  w_cc = 1 - 1/3 = 2/3.
    """
    network = CommunicationNetwork.named("path", ["a", "b", "c"])
    t, s = Fraction(1, 3), Fraction(2, 3)
    expected = _exact([[s, t, 0], [t, t, t], [0, t, s]])
    np.testing.assert_allclose(network.metropolis_weights(), expected, rtol=0, atol=1e-15)
    assert network.weights_of("a") == pytest.approx({"a": 2 / 3, "b": 1 / 3}, abs=1e-15)
    assert network.weights_of("b") == pytest.approx({"a": 1 / 3, "b": 1 / 3, "c": 1 / 3}, abs=1e-15)
    np.testing.assert_array_equal(network.laplacian(), [[1, -1, 0], [-1, 2, -1], [0, -1, 1]])


def test_metropolis_weights_of_a_star():
    """Star with hub h and leaves x, y, z: d_h = 3, each leaf has degree 1.

    w_hl = 1 / (1 + max(3, 1)) = 1/4 for each leaf l;  leaves share no edge, so w_xy = w_xz = w_yz = 0;
    w_hh = 1 - 3 * 1/4 = 1/4;  w_ll = 1 - 1/4 = 3/4.
    """
    network = CommunicationNetwork.from_edges(["h", "x", "y", "z"], [("x", "h"), ("h", "y"), ("z", "h")])
    q, r = Fraction(1, 4), Fraction(3, 4)
    expected = _exact([[q, q, q, q], [q, r, 0, 0], [q, 0, r, 0], [q, 0, 0, r]])
    np.testing.assert_allclose(network.metropolis_weights(), expected, rtol=0, atol=1e-15)
    assert network.edges == (("h", "x"), ("h", "y"), ("h", "z"))
    assert network.neighbours("h") == ("x", "y", "z") and network.neighbours("y") == ("h",)
    assert (network.degree("h"), network.degree("z")) == (3, 1)
    assert network.weights_of("x") == {"h": 0.25, "x": 0.75}


@pytest.mark.parametrize("topology, probability", [("ring", None), ("complete", None), ("path", None),
                                                   ("erdos_renyi", 0.3), ("erdos_renyi", 0.6)])
def test_metropolis_weights_are_doubly_stochastic(topology, probability):
    network = CommunicationNetwork.named(topology, AGENTS_10, edge_probability=probability, seed=2)
    _assert_consensus_matrix(network.metropolis_weights(), network)


def test_laplacian_second_eigenvalue_is_positive_exactly_for_accepted_graphs():
    """L = D - A built here from the edge list by hand: rows sum to 0; lambda_2 > 0 exactly when the graph is
    connected, i.e. exactly when from_edges accepts it (and then the network's Laplacian is this L)."""
    rng = np.random.default_rng(7)
    agents = [f"n{i}" for i in range(7)]
    pairs = list(itertools.combinations(range(7), 2))
    outcomes = set()
    for _ in range(60):
        chosen = [pairs[k] for k in rng.choice(len(pairs), size=rng.integers(4, 10), replace=False)]
        laplacian = np.zeros((7, 7))
        for i, j in chosen:
            laplacian[i, j] = laplacian[j, i] = -1.0
            laplacian[i, i] += 1.0
            laplacian[j, j] += 1.0
        np.testing.assert_array_equal(laplacian.sum(axis=1), 0.0)
        connected = np.linalg.eigvalsh(laplacian)[1] > 1e-9
        edges = [(agents[i], agents[j]) for i, j in chosen]
        if connected:
            np.testing.assert_array_equal(CommunicationNetwork.from_edges(agents, edges).laplacian(), laplacian)
        else:
            with pytest.raises(NetworkError, match="separate groups"):
                CommunicationNetwork.from_edges(agents, edges)
        outcomes.add(bool(connected))
    assert outcomes == {True, False}


def test_consensus_on_a_ring_of_ten_reaches_the_average():
    """x <- W x keeps the average (1^T W = 1^T) and converges to it: on a ring every degree is 2, W is circulant
    with eigenvalues 1/3 + 2/3 cos(2 pi k / 10), the second largest in magnitude 0.873, so 300 steps leave
    an error below 0.873^300 ~ 2e-18 times the initial spread."""
    weights = CommunicationNetwork.named("ring", AGENTS_10).metropolis_weights()
    x = np.random.default_rng(1).uniform(-50.0, 50.0, size=10)
    average = x.mean()
    for _ in range(300):
        x = weights @ x
        assert x.mean() == pytest.approx(average, abs=1e-12)
    np.testing.assert_allclose(x, average, rtol=0, atol=1e-10)


def test_named_topologies_and_small_networks():
    ring = CommunicationNetwork.named("ring", AGENTS_10)
    assert ring.n_edges == 10 and ("a0", "a9") in ring.edges and ring.neighbours("a0") == ("a1", "a9")
    assert ring.describe() == "ring network: 10 agents, 10 edges, diameter 5"
    assert CommunicationNetwork.named("path", AGENTS_10).n_edges == 9
    assert CommunicationNetwork.named("complete", AGENTS_10).n_edges == 45
    assert CommunicationNetwork.named("ring", ["a", "b"]).edges == (("a", "b"),)
    single = CommunicationNetwork.named("ring", ["solo"])
    assert (single.n_agents, single.n_edges, single.edges) == (1, 0, ())
    np.testing.assert_array_equal(single.metropolis_weights(), [[1.0]])
    np.testing.assert_array_equal(single.laplacian(), [[0.0]])
    assert single.describe() == "ring network: 1 agent, 0 edges, diameter 0"


def test_erdos_renyi_is_deterministic_per_seed():
    def draw(seed):
        return CommunicationNetwork.named("erdos_renyi", AGENTS_10, edge_probability=0.6, seed=seed)

    assert draw(0).edges == draw(0).edges
    assert any(draw(seed).edges != draw(0).edges for seed in range(1, 4))
    complete = CommunicationNetwork.named("erdos_renyi", AGENTS_10, edge_probability=1.0)
    assert complete.edges == CommunicationNetwork.named("complete", AGENTS_10).edges
    assert draw(5).describe().startswith("erdos_renyi(p=0.6, seed=5) network: 10 agents")


def test_disconnected_edge_list_names_the_groups():
    with pytest.raises(NetworkError) as err:
        CommunicationNetwork.from_edges(["a", "b", "c", "d", "e"], [("a", "b"), ("d", "c")])
    assert "3 separate groups {a, b} | {c, d} | {e}" in str(err.value)


def test_disconnected_erdos_renyi_draw_names_the_groups_and_suggests_a_fix():
    """The groups named are the connected components of networkx's own G(10, 0.05) draw with seed 0."""
    reference = nx.gnp_random_graph(10, 0.05, seed=0)
    groups = [sorted(f"a{i}" for i in c) for c in nx.connected_components(reference)]
    assert len(groups) > 1
    with pytest.raises(NetworkError) as err:
        CommunicationNetwork.named("erdos_renyi", AGENTS_10, edge_probability=0.05, seed=0)
    message = str(err.value)
    assert f"{len(groups)} separate groups" in message
    assert all("{" + ", ".join(group) + "}" in message for group in groups)
    assert "larger edge_probability" in message and "another seed" in message


@pytest.mark.parametrize("build, fragment", [
    (lambda: CommunicationNetwork.from_edges(["a", "b"], [("a", "x")]), "unknown agents 'x'"),
    (lambda: CommunicationNetwork.from_edges(["a", "b"], [("a", "b"), ("b", "b")]), "self loops at 'b'"),
    (lambda: CommunicationNetwork.from_edges(["a", "a"], []), "repeated: a"),
    (lambda: CommunicationNetwork.from_edges([], []), "at least one agent"),
    (lambda: CommunicationNetwork.named("star", ["a"]), "unknown topology 'star'"),
    (lambda: CommunicationNetwork.named("erdos_renyi", AGENTS_10), r"needs an edge_probability in \(0, 1\]"),
    (lambda: CommunicationNetwork.named("erdos_renyi", AGENTS_10, edge_probability=0.0), r"in \(0, 1\], got 0.0"),
    (lambda: CommunicationNetwork.named("erdos_renyi", AGENTS_10, edge_probability=1.5), "got 1.5"),
    (lambda: CommunicationNetwork.named("erdos_renyi", AGENTS_10, edge_probability=0.5, seed=-1), "seed"),
    (lambda: CommunicationNetwork.named("ring", AGENTS_10, edge_probability=0.5), "'erdos_renyi' only"),
    (lambda: CommunicationNetwork.named("ring", AGENTS_10).index("zz"), "unknown agent 'zz'"),
])
def test_invalid_networks_are_refused(build, fragment):
    with pytest.raises(NetworkError, match=fragment):
        build()


def test_repeated_edges_collapse_and_the_network_is_immutable():
    network = CommunicationNetwork.from_edges(["a", "b", "c"], [("b", "a"), ("a", "b"), ("c", "b")])
    assert network.edges == (("a", "b"), ("b", "c"))
    assert network == CommunicationNetwork.named("path", ["a", "b", "c"])
    with pytest.raises(dataclasses.FrozenInstanceError):
        network.edges = ()
    graph = network.graph
    graph.add_edge("a", "c")
    assert network.n_edges == 2 and list(graph.nodes) == ["a", "b", "c"]


def test_shipped_case_uses_the_edges_of_its_network_sheet():
    """cases/microgrid_8.xlsx: a ring over the agents in workbook order plus the chords mt1-grid and
    pv_roof-battery, as listed on its 'network' sheet."""
    path = CASES / "microgrid_8.xlsx"
    sheet = openpyxl.load_workbook(path, read_only=True)["network"]
    rows = [row for row in sheet.iter_rows(min_row=2, values_only=True) if any(row)]
    case = read_case(path)
    network = network_from_case(case)
    assert network.agents == tuple(case.agent_names())
    assert {frozenset(e) for e in network.edges} == {frozenset(row[:2]) for row in rows}
    assert network.n_edges == len(rows) == network.n_agents + 2
    assert {frozenset(("mt1", "grid")), frozenset(("pv_roof", "battery"))} <= {frozenset(e) for e in network.edges}
    assert all(network.degree(a) >= 2 for a in network.agents)
    assert network.describe().startswith("sheet network: 8 agents, 10 edges")


def test_case_without_edges_uses_its_named_topology():
    agents = [AgentSpec("grid", name, {}) for name in ("g1", "g2", "g3", "g4")]
    ring = network_from_case(Case("c", 1, 1.0, agents=agents, topology="ring"))
    assert ring.edges == (("g1", "g2"), ("g1", "g4"), ("g2", "g3"), ("g3", "g4"))
    drawn = network_from_case(Case("c", 1, 1.0, agents=agents, topology="erdos_renyi", edge_probability=1.0))
    assert drawn.n_edges == 6
    with pytest.raises(NetworkError, match="4 separate groups"):
        network_from_case(Case("c", 1, 1.0, agents=agents))  # topology 'sheet' without edges


def _messages(path) -> list[str]:
    with pytest.raises(CaseError) as err:
        read_case(path)
    return err.value.messages()


def test_workbook_erdos_renyi_without_edge_probability_gives_one_clear_message(tmp_path):
    tables = copy.deepcopy(example_tables())
    tables["meta"][0].update(topology="erdos_renyi")
    messages = _messages(write_case_workbook(tmp_path / "er.xlsx", tables))
    assert len(messages) == 1, messages
    assert messages[0].startswith("er.xlsx: sheet 'meta', row ")
    assert "column 'value (key 'edge_probability')'" in messages[0]
    assert "expected a number in (0, 1] when topology is 'erdos_renyi'" in messages[0]


def test_workbook_erdos_renyi_settings_reach_the_case_and_the_network(tmp_path):
    tables = copy.deepcopy(example_tables())
    tables["meta"][0].update(topology="erdos_renyi", edge_probability=0.7, seed=4)
    tables["network"] = []
    case = read_case(write_case_workbook(tmp_path / "er.xlsx", tables))
    assert (case.topology, case.edge_probability, case.seed, case.edges) == ("erdos_renyi", 0.7, 4, [])
    network = network_from_case(case)
    expected = CommunicationNetwork.named("erdos_renyi", case.agent_names(), edge_probability=0.7, seed=4)
    assert network.edges == expected.edges and network.agents == ("mt1", "pv1", "bat1", "grid", "boiler1")


def test_workbook_reports_a_disconnected_draw_and_misplaced_settings_on_sheet_meta(tmp_path):
    tables = copy.deepcopy(example_tables())
    tables["meta"][0].update(topology="erdos_renyi", edge_probability=0.01, seed=0)
    tables["network"] = []
    messages = _messages(write_case_workbook(tmp_path / "sparse.xlsx", tables))
    assert len(messages) == 1, messages
    assert "sheet 'meta'" in messages[0] and "column 'value (key 'topology')'" in messages[0]
    assert "5 separate groups {bat1} | {boiler1} | {grid} | {mt1} | {pv1}" in messages[0]
    assert "another seed" in messages[0]

    tables["meta"][0].update(topology="ring", edge_probability=0.5, seed=-2)
    messages = _messages(write_case_workbook(tmp_path / "misplaced.xlsx", tables))
    assert len(messages) == 2, messages
    assert any("key 'edge_probability'" in m and "an empty cell unless topology is 'erdos_renyi'" in m
               for m in messages)
    assert any("key 'seed'" in m and "got -2" in m and ">= 0" in m for m in messages)

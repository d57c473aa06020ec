"""Communication graphs: which agents exchange messages, and the consensus weights they use.

A :class:`CommunicationNetwork` is an undirected, connected graph over an ordered tuple of agent names.  The
agent order fixes the order of every matrix and of every neighbour list, so runs are deterministic.

Notation: N agents, edge set E (unordered pairs {i, j}, no self loops), neighbours N_i = {j : {i, j} in E},
degree d_i = |N_i|, adjacency matrix A (a_ij = 1 if {i, j} in E, else 0), D = diag(d_1, ..., d_N).

Laplacian ``L = D - A``.  Every row sums to zero (L 1 = 0), L is symmetric positive semidefinite because
x^T L x = sum over {i, j} in E of (x_i - x_j)^2, and its second-smallest eigenvalue lambda_2 (the algebraic
connectivity, Fiedler 1973) is > 0 exactly when the graph is connected.

Metropolis-Hastings weights (L. Xiao, S. Boyd, S.-J. Kim, "Distributed average consensus with least-mean-square
deviation", J. Parallel Distrib. Comput. 67(1):33-46, 2007)::

    w_ij = 1 / (1 + max(d_i, d_j))     if {i, j} in E
    w_ii = 1 - sum_{j in N_i} w_ij
    w_ij = 0                           otherwise

W is symmetric (max(d_i, d_j) is symmetric in i and j) and each row sums to 1 by the choice of w_ii, so each
column sums to 1 as well: W is doubly stochastic.  Every off-diagonal entry of row i is at most 1 / (1 + d_i),
so w_ii >= 1 - d_i / (1 + d_i) = 1 / (1 + d_i) > 0: W is nonnegative with a positive diagonal.  On a connected
graph W is then primitive, 1^T W = 1^T keeps the average of x invariant, and the consensus iteration
x <- W x converges to the average (1/N) 1 1^T x(0).  Agent i computes its row from its own degree and its
neighbours' degrees alone, which is why these weights suit distributed algorithms.

Named topologies over agents 0..N-1 (in agent order): ``path`` (i, i+1); ``ring`` the path plus (N-1, 0) when
N > 2; ``complete`` every pair; ``erdos_renyi`` the random graph G(N, p) (each pair an edge independently with
probability p; Gilbert 1959, Erdos & Renyi 1959) drawn as networkx's ``gnp_random_graph`` draws it from ``seed``
(:func:`~ecodec.network.sparse_graph.gnp_pairs`), so the same seed gives the same graph.  A draw is connected
with high probability once p exceeds ln(N) / N (Erdos & Renyi 1959).

Decisions: a disconnected graph is an error (:class:`~ecodec.errors.NetworkError` naming the separate groups),
never silently patched, because consensus over separate groups cannot reach the community-wide average;
unknown names and self loops are errors; an edge given twice (in either direction) is one edge.  A single
agent is a valid network without edges.  The workbook reader uses :func:`connected_groups` and
:meth:`CommunicationNetwork.named` so that it reports exactly what this module would refuse.

Cost: a network is immutable (a frozen dataclass over tuples), so what it derives is computed once and kept.
Building and the connectivity check take O(N + E log E); row i of W is computed on first use, O(d_i), so
:meth:`~CommunicationNetwork.weights_of` never builds the N x N matrix (800 MB at N = 10,000); the exact diameter
costs O(D E N / 64) (:mod:`ecodec.network.sparse_graph`, which states the math of both).
"""

from __future__ import annotations

import itertools
import logging
import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property

import networkx as nx
import numpy as np
import scipy.sparse as sp

from ecodec.case import Case
from ecodec.errors import NetworkError
from ecodec.network.sparse_graph import (component_labels, edge_positions, gnp_pairs, hop_diameter,
                                         adjacency_sparse, metropolis_row, metropolis_sparse,
                                         neighbours_of_pairs)

log = logging.getLogger(__name__)

TOPOLOGIES: tuple[str, ...] = ("complete", "ring", "path", "erdos_renyi")


def connected_groups(agents: Sequence[str], edges: Iterable[tuple[str, str]]) -> list[tuple[str, ...]]:
    """The connected components of the graph, each sorted by name; the largest group first, ties by name.

    A name that only appears in ``edges`` is a node too.  O((N + E) + N log N).

    >>> connected_groups(["a", "b", "c", "d"], [("d", "a")])
    [('a', 'd'), ('b',), ('c',)]
    """
    edges = list(edges)
    names = list(dict.fromkeys(itertools.chain(agents, itertools.chain.from_iterable(edges))))
    position = {name: k for k, name in enumerate(names)}
    labels = component_labels(len(names), [position[a] for a, _ in edges], [position[b] for _, b in edges])
    groups: dict[int, list[str]] = {}
    for name, label in zip(names, labels.tolist()):
        groups.setdefault(label, []).append(name)
    return sorted((tuple(sorted(g)) for g in groups.values()), key=lambda g: (-len(g), g))


def normalised_edges(index: dict[str, int], pairs: Iterable[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    """Each pair ordered as the agents are (``index``: name -> position), repeats removed, sorted by position."""
    ordered: dict[tuple[int, int], tuple[str, str]] = {}
    for a, b in pairs:
        i, j = index[a], index[b]
        ordered[(i, j) if i < j else (j, i)] = (a, b) if i < j else (b, a)
    return tuple(ordered[key] for key in sorted(ordered))


def neighbour_lists(agents: Sequence[str], index: dict[str, int],
                    edges: Iterable[tuple[str, str]]) -> dict[str, tuple[str, ...]]:
    """Every agent's neighbours over ``edges``, in agent order (an empty tuple for an isolated agent)."""
    return neighbours_of_pairs(tuple(agents), edge_positions(index, edges))


def format_groups(groups: Sequence[Sequence[str]]) -> str:
    """Groups of agent names as ``{a, b} | {c}``."""
    return " | ".join("{" + ", ".join(group) + "}" for group in groups)


@dataclass(frozen=True)
class CommunicationNetwork:
    """An immutable, connected, undirected communication graph over ordered agent names (math: module docstring).

    Build one with :meth:`from_edges` or :meth:`named`.  ``edges`` are normalised: each pair is ordered as the
    agents are, and the pairs are sorted by the agents' positions.  ``topology`` is a label used by
    :meth:`describe` (it does not take part in equality).
    """

    agents: tuple[str, ...]
    edges: tuple[tuple[str, str], ...]
    topology: str = field(default="custom", compare=False)
    _index: dict[str, int] = field(init=False, repr=False, compare=False)
    _neighbours: dict[str, tuple[str, ...]] = field(init=False, repr=False, compare=False)
    _pairs: np.ndarray = field(init=False, repr=False, compare=False)
    _rows: dict[str, dict[str, float]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        agents = tuple(self.agents)
        if not agents:
            raise NetworkError("a communication network needs at least one agent")
        index = {name: i for i, name in enumerate(agents)}
        if len(index) != len(agents):
            repeated = sorted(a for a, times in Counter(agents).items() if times > 1)
            raise NetworkError(f"agent names must be unique; repeated: {', '.join(repeated)}")
        pairs = [tuple(edge) for edge in self.edges]
        if any(len(pair) != 2 for pair in pairs):
            raise NetworkError("every edge must be a pair of agent names")
        unknown = sorted({name for pair in pairs for name in pair if name not in index})
        if unknown:
            raise NetworkError(f"edges name unknown agents {', '.join(map(repr, unknown))}; the agents are "
                               + ", ".join(agents))
        loops = sorted({a for a, b in pairs if a == b})
        if loops:
            raise NetworkError(f"an edge must join two different agents; self loops at {', '.join(map(repr, loops))}")
        normalised = normalised_edges(index, pairs)
        if len(normalised) < len(pairs):
            log.debug("%d repeated edges collapsed", len(pairs) - len(normalised))
        positions = edge_positions(index, normalised)
        positions.flags.writeable = False
        if len(agents) > 1 and component_labels(len(agents), positions[:, 0], positions[:, 1]).max() > 0:
            groups = connected_groups(agents, normalised)
            raise NetworkError(f"the communication graph ({self.topology}) is disconnected: {len(groups)} separate "
                               f"groups {format_groups(groups)}; add edges joining the groups")
        object.__setattr__(self, "agents", agents)
        object.__setattr__(self, "edges", normalised)
        object.__setattr__(self, "_index", index)
        object.__setattr__(self, "_neighbours", neighbours_of_pairs(agents, positions))
        object.__setattr__(self, "_pairs", positions)
        object.__setattr__(self, "_rows", {})

    # -- constructors ------------------------------------------------------------------------------------
    @classmethod
    def from_edges(cls, agents: Iterable[str], edges: Iterable[tuple[str, str]], *,
                   topology: str = "custom") -> CommunicationNetwork:
        """The network with the given edges (name pairs; a pair repeated in either direction is one edge).

        Raises NetworkError for unknown names, self loops, or a graph that does not connect every agent.
        """
        return cls(tuple(agents), tuple(edges), topology)

    @classmethod
    def named(cls, topology: str, agents: Iterable[str], *, edge_probability: float | None = None,
              seed: int = 0) -> CommunicationNetwork:
        """A named topology (one of :data:`TOPOLOGIES`) over ``agents`` in their order.

        ``edge_probability`` (p in (0, 1]) is required by ``erdos_renyi`` and refused by the others; ``seed``
        (an integer >= 0) only affects ``erdos_renyi``.  A disconnected Erdos-Renyi draw raises NetworkError.
        """
        agents = tuple(agents)
        n = len(agents)
        if topology not in TOPOLOGIES:
            raise NetworkError(f"unknown topology {topology!r}; expected one of {', '.join(TOPOLOGIES)}")
        if topology != "erdos_renyi":
            if edge_probability is not None:
                raise NetworkError(f"edge_probability is used by topology 'erdos_renyi' only, not {topology!r}")
            path = list(zip(range(n), range(1, n)))
            pairs = {"path": path, "ring": path + ([(n - 1, 0)] if n > 2 else []),
                     "complete": list(itertools.combinations(range(n), 2))}[topology]
            return cls(agents, tuple((agents[i], agents[j]) for i, j in pairs), topology)
        p = _edge_probability(edge_probability)
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise NetworkError(f"seed must be an integer >= 0, got {seed!r}")
        label = f"erdos_renyi(p={p:g}, seed={seed})"
        drawn = gnp_pairs(n, p, int(seed))  # the draw of networkx.gnp_random_graph(n, p, seed), in bulk
        edges = tuple((agents[i], agents[j]) for i, j in drawn.tolist())
        if n > 1 and component_labels(n, drawn[:, 0], drawn[:, 1]).max() > 0:
            groups = connected_groups(agents, edges)
            raise NetworkError(f"the {label} draw over {n} agents is disconnected: {len(groups)} separate groups "
                               f"{format_groups(groups)}; use a larger edge_probability (draws are likely connected "
                               f"above ln(N)/N = {math.log(n) / n:.3g}) or another seed")
        return cls(agents, edges, label)

    @classmethod
    def first_connected_erdos_renyi(cls, agents: Iterable[str], edge_probability: float, seed: int,
                                    attempts: int = 1000) -> tuple[CommunicationNetwork, int]:
        """The first connected ``erdos_renyi`` draw from seed, seed + 1, ... (at most ``attempts``), with the seed
        that gave it.

        >>> net, used = CommunicationNetwork.first_connected_erdos_renyi([f"a{i}" for i in range(20)], 0.2, 0)
        >>> net.n_agents, used >= 0
        (20, True)
        """
        agents = tuple(agents)
        if len(agents) < 3:
            return cls.named("complete", agents), seed
        for attempt in range(seed, seed + attempts):
            try:
                return cls.named("erdos_renyi", agents, edge_probability=edge_probability, seed=attempt), attempt
            except NetworkError:
                continue
        raise NetworkError(f"no connected erdos_renyi(p={edge_probability:g}) draw over {len(agents)} agents in "
                           f"{attempts} seeds from {seed}; use a larger edge probability")

    # -- structure ---------------------------------------------------------------------------------------
    @property
    def n_agents(self) -> int:
        return len(self.agents)

    @property
    def n_edges(self) -> int:
        return len(self.edges)

    def index(self, name: str) -> int:
        """Position of agent ``name`` in :attr:`agents` (the row and column of the matrices)."""
        try:
            return self._index[name]
        except KeyError:
            raise NetworkError(f"unknown agent {name!r}; the agents are {', '.join(self.agents)}") from None

    def neighbours(self, name: str) -> tuple[str, ...]:
        """The agents sharing an edge with ``name``, in agent order."""
        self.index(name)
        return self._neighbours[name]

    def degree(self, name: str) -> int:
        return len(self.neighbours(name))

    @property
    def graph(self) -> nx.Graph:
        """A new networkx Graph with the agents (in order) as nodes; changing it leaves the network unchanged."""
        graph = nx.Graph()
        graph.add_nodes_from(self.agents)
        graph.add_edges_from(self.edges)
        return graph

    # -- matrices ----------------------------------------------------------------------------------------
    def laplacian(self) -> np.ndarray:
        """L = D - A (N x N, agent order)."""
        first, second = self._pairs[:, 0], self._pairs[:, 1]
        laplacian = np.diag(np.bincount(np.concatenate([first, second]), minlength=self.n_agents).astype(float))
        laplacian[first, second] = laplacian[second, first] = -1.0
        return laplacian

    def metropolis_weights(self) -> np.ndarray:
        """Metropolis-Hastings weights W (N x N, agent order): symmetric, doubly stochastic, nonnegative.

        Row i holds the numbers of :meth:`weights_of` (O(N^2) memory: methods read rows with weights_of)."""
        return self.mixing_matrix.toarray()

    @cached_property
    def mixing_matrix(self) -> sp.csr_array:
        """:meth:`metropolis_weights` as a sparse matrix (:func:`~ecodec.network.sparse_graph.metropolis_sparse`),
        O(N + E), computed on first use and kept: the runtimes' :meth:`~ecodec.runtime.InProcessRuntime.mix`.

        >>> CommunicationNetwork.named("path", ["a", "b", "c"]).mixing_matrix.toarray().round(3).tolist()
        [[0.667, 0.333, 0.0], [0.333, 0.333, 0.333], [0.0, 0.333, 0.667]]
        """
        return metropolis_sparse(self.n_agents, self._pairs)

    @cached_property
    def adjacency_matrix(self) -> sp.csr_array:
        """The adjacency matrix (ones on the edges, agent order) as a sparse matrix
        (:func:`~ecodec.network.sparse_graph.adjacency_sparse`), computed on first use and kept."""
        return adjacency_sparse(self.n_agents, self._pairs)

    def weights_of(self, name: str) -> dict[str, float]:
        """Row ``name`` of :meth:`metropolis_weights` as {agent: weight} in agent order, self included, nonzero
        entries only; O(degree), computed once per agent and kept (a new dict is returned each call).

        >>> CommunicationNetwork.named("path", ["a", "b", "c"]).weights_of("a")
        {'a': 0.6666666666666667, 'b': 0.3333333333333333}
        """
        row = self._rows.get(name)
        if row is None:
            self.index(name)
            row = self._rows[name] = metropolis_row(name, self._neighbours, self._index)
        return dict(row)

    @cached_property
    def diameter(self) -> int:
        """The longest shortest path between two agents, in hops (0 for a single agent); exact
        (:func:`hop_diameter`), computed on first use and kept."""
        return hop_diameter(self.n_agents, self._pairs)

    def describe(self) -> str:
        """One line: topology, number of agents and edges, diameter (longest shortest path, in hops)."""
        return (f"{self.topology} network: {_count(self.n_agents, 'agent')}, {_count(self.n_edges, 'edge')}, "
                f"diameter {self.diameter}")


def network_from_case(case: Case) -> CommunicationNetwork:
    """The case's communication graph: its ``network`` sheet edges if any, else the topology named in ``meta``.

    A case whose topology is ``sheet`` (the default of a Case built in code) uses its edges even when there are
    none, so a case of several agents without edges is reported as disconnected rather than given a graph.
    """
    agents = case.agent_names()
    if case.edges or case.topology == "sheet":
        network = CommunicationNetwork.from_edges(agents, case.edges, topology="sheet")
    else:
        network = CommunicationNetwork.named(case.topology, agents, edge_probability=case.edge_probability,
                                             seed=case.seed)
    if log.isEnabledFor(logging.INFO):
        log.info("case '%s': %s", case.name, network.describe())
    return network


def _edge_probability(value: float | None) -> float:
    """p of G(N, p), checked to be a number in (0, 1]."""
    if value is None:
        raise NetworkError("topology 'erdos_renyi' needs an edge_probability in (0, 1]")
    if isinstance(value, bool) or not isinstance(value, (int, float, np.number)) or not 0.0 < value <= 1.0:
        raise NetworkError(f"edge_probability must be a number in (0, 1], got {value!r}")
    return float(value)


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"

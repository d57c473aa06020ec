"""Time-varying communication graphs: which edges of a base network are active at each iteration k = 0, 1, 2, ...

A :class:`GraphSchedule` picks, at every iteration k, an active graph G_k = (V, E_k) with E_k a subset of the
edges E of a connected :class:`~ecodec.network.graph.CommunicationNetwork`.  G_k may be disconnected and may
leave agents isolated.  Modes:

* ``fixed``: E_k = E at every k (the static network).
* ``random``: each base edge is active independently with probability p in (0, 1]; iteration k draws one
  uniform number per base edge, in base edge order, from ``numpy.random.default_rng([seed, k])`` and the edge
  is active iff its draw is < p (so p = 1 activates every edge).  A given edge stays inactive through B
  iterations with probability (1 - p)^B, so by the union bound the union over B iterations is the whole base
  network with probability >= 1 - |E| (1 - p)^B: a guide for choosing the window B.
* ``periodic``: base edge number e (base edge order) is active at iteration k iff e % P == k % P, for a period
  P >= 2.  The P graphs partition E, so the union over any P consecutive iterations is the base network.

Consensus weights on G_k are the Metropolis-Hastings weights of G_k itself (Xiao, Boyd & Kim 2007), with the
degrees d_i(k) counted on the active edges::

    w_ij(k) = 1 / (1 + max(d_i(k), d_j(k)))   if {i, j} in E_k,    w_ii(k) = 1 - sum_{j : {i, j} in E_k} w_ij(k)

As for a static graph, W(k) is symmetric, nonnegative with a positive diagonal, and doubly stochastic at every
k (an isolated agent has the row e_i: it keeps its value).  Hence 1^T W(k) = 1^T: each consensus step
preserves the sum and the average of the agents' values, which dual decomposition and gradient tracking rely
on.  Every nonzero entry is at least 1 / N (d_i(k) <= N - 1, and w_ii(k) >= 1 / (1 + d_i(k))).

B-connectivity (A. Nedic & A. Ozdaglar, "Distributed subgradient methods for multi-agent optimization", IEEE
Trans. Automatic Control 54(1):48-61, 2009; A. Falsone, K. Margellos, S. Garatti, M. Prandini, "Dual
decomposition for multi-agent distributed optimization with coupling constraints", Automatica 84:149-158, 2017):
there is an integer B >= 1 such that the union of the active graphs over every window [mB, (m+1)B) is
connected.  With doubly stochastic W(k) whose nonzero entries are bounded below (here by 1 / N), this makes the
products W(k) ... W(s) converge to (1/N) 1 1^T geometrically, which the convergence proofs of these algorithms
on time-varying graphs assume.  ``periodic`` schedules are checked at construction (a window B < P whose union
is disconnected is an error); ``random`` ones can only be checked as they run, by :meth:`GraphSchedule.window_check`.

Decisions: the weights are recomputed for each active graph rather than taken from the base network.  Keeping
the base weights on the active edges and moving the dropped ones onto the diagonal would also be doubly
stochastic, but it mixes slowly on sparse active graphs (an agent with 1 active neighbour out of 9 would keep
>= 0.9 on itself), and the per-graph Metropolis weights are those of the cited analyses; an agent only needs its
active neighbours' active degrees, one number per message.  The random draws are seeded per iteration, with
``[seed, k]``, rather than taken from one stream: graph k is then a pure function of (seed, k), the same on every
MPI rank, after a restart, and whatever iterations were drawn before, in any order.

Cost: an active graph is the base edges kept by a boolean mask (already ordered, so no sorting): O(N + |E_k|) to
build, weight rows O(d_i(k)) on first use and then kept; a window's union is checked with scipy's connected
components, O(N + |E|), and the groups are only named when it is disconnected.
"""

from __future__ import annotations

import itertools
import logging
import math
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import scipy.sparse as sp

from ecodec.errors import NetworkError
from ecodec.network.graph import (CommunicationNetwork, connected_groups, format_groups, neighbour_lists,
                                  normalised_edges)
from ecodec.network.sparse_graph import (adjacency_sparse, component_labels, edge_positions, metropolis_row,
                                         metropolis_sparse, neighbours_of_pairs)

log = logging.getLogger(__name__)

TIME_VARYING_MODES: tuple[str, ...] = ("fixed", "random", "periodic")
DEFAULT_RANDOM_WINDOW = 20


@dataclass(frozen=True)
class ActiveGraph:
    """The edges of the base network that are active at one iteration (may be disconnected; math: module docstring).

    ``edges`` are normalised as in :class:`CommunicationNetwork`: each pair ordered as the agents are, the pairs
    sorted by the agents' positions.
    """

    agents: tuple[str, ...]
    edges: tuple[tuple[str, str], ...]
    _index: dict[str, int] = field(init=False, repr=False, compare=False)
    _neighbours: dict[str, tuple[str, ...]] = field(init=False, repr=False, compare=False)
    _rows: dict[str, dict[str, float]] = field(init=False, repr=False, compare=False)
    _pairs: np.ndarray | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        agents = tuple(self.agents)
        index = {name: i for i, name in enumerate(agents)}
        pairs = [tuple(edge) for edge in self.edges]
        bad = next((pair for pair in pairs if len(pair) != 2 or pair[0] == pair[1] or pair[0] not in index
                    or pair[1] not in index), None)
        if bad is not None:
            raise NetworkError(f"an active edge must join two different agents of {', '.join(agents)}; got {bad!r}")
        self._fill(agents, normalised_edges(index, pairs), index, None)

    def _fill(self, agents: tuple[str, ...], edges: tuple[tuple[str, str], ...], index: dict[str, int],
              neighbours: dict[str, tuple[str, ...]] | None, pairs: np.ndarray | None = None) -> None:
        object.__setattr__(self, "agents", agents)
        object.__setattr__(self, "edges", edges)
        object.__setattr__(self, "_index", index)
        object.__setattr__(self, "_neighbours", neighbours or neighbour_lists(agents, index, edges))
        object.__setattr__(self, "_rows", {})
        object.__setattr__(self, "_pairs", pairs)

    @classmethod
    def _of_network(cls, network: CommunicationNetwork, mask: np.ndarray | None = None) -> ActiveGraph:
        """The base edges of ``network`` kept by ``mask`` (all without one), O(N + E): they are normalised already
        and stay in order, so the checks and the sorting of the constructor are skipped."""
        graph = cls.__new__(cls)
        if mask is None:
            graph._fill(network.agents, network.edges, network._index, network._neighbours, network._pairs)
        else:
            edges = tuple(itertools.compress(network.edges, mask.tolist()))
            pairs = network._pairs[mask]
            graph._fill(network.agents, edges, network._index, neighbours_of_pairs(network.agents, pairs), pairs)
        return graph

    @property
    def n_edges(self) -> int:
        return len(self.edges)

    def neighbours(self, name: str) -> tuple[str, ...]:
        """The active neighbours of ``name`` in agent order (empty if ``name`` is isolated at this iteration)."""
        try:
            return self._neighbours[name]
        except KeyError:
            raise NetworkError(f"unknown agent {name!r}; the agents are {', '.join(self.agents)}") from None

    def degree(self, name: str) -> int:
        return len(self.neighbours(name))

    def weights_of(self, name: str) -> dict[str, float]:
        """Row ``name`` of the Metropolis-Hastings weights of this graph, {agent: weight} in agent order, self
        included, computed from the degrees of ``name`` and its active neighbours only (O(degree)) on first use,
        then kept (a new dict is returned each call)."""
        row = self._rows.get(name)
        if row is None:
            self.neighbours(name)
            row = self._rows[name] = metropolis_row(name, self._neighbours, self._index)
        return dict(row)

    def metropolis_weights(self) -> np.ndarray:
        """The N x N Metropolis-Hastings matrix of this graph (agent order): symmetric and doubly stochastic; row i
        holds the numbers of :meth:`weights_of`."""
        return self.mixing_matrix.toarray()

    @cached_property
    def mixing_matrix(self) -> sp.csr_array:
        """:meth:`metropolis_weights` as a sparse matrix (:func:`~ecodec.network.sparse_graph.metropolis_sparse`),
        O(N + E), computed on first use and kept."""
        return metropolis_sparse(len(self.agents), self._positions())

    @cached_property
    def adjacency_matrix(self) -> sp.csr_array:
        """The adjacency matrix of this graph (ones on the active edges, agent order) as a sparse matrix
        (:func:`~ecodec.network.sparse_graph.adjacency_sparse`), computed on first use and kept."""
        return adjacency_sparse(len(self.agents), self._positions())

    def _positions(self) -> np.ndarray:
        """The active edges as an E x 2 array of agent positions."""
        if self._pairs is None:
            object.__setattr__(self, "_pairs", edge_positions(self._index, self.edges))
        return self._pairs


class GraphSchedule:
    """Which edges of ``network`` are active at each iteration k = 0, 1, 2, ... (modes: module docstring).

    ``edge_probability`` (p in (0, 1]) is used by ``random``, ``period`` (an integer >= 2) by ``periodic``;
    ``window`` is the joint connectivity window B (default: the period for ``periodic``, 20 for ``random``, 1 for
    ``fixed``).  Raises NetworkError for invalid parameters and for a periodic schedule of which some window of B
    iterations leaves the agents disconnected.
    """

    def __init__(self, network: CommunicationNetwork, mode: str = "fixed", *, edge_probability: float = 0.5,
                 seed: int = 0, period: int = 2, window: int | None = None) -> None:
        if mode not in TIME_VARYING_MODES:
            raise NetworkError(f"unknown time-varying mode {mode!r}; expected one of {', '.join(TIME_VARYING_MODES)}")
        if isinstance(edge_probability, bool) or not isinstance(edge_probability, (int, float, np.number)) \
                or not 0.0 < edge_probability <= 1.0:
            raise NetworkError(f"edge_probability must be a number in (0, 1], got {edge_probability!r}")
        if not _is_int(seed) or seed < 0:
            raise NetworkError(f"seed must be an integer >= 0, got {seed!r}")
        if mode == "periodic" and (not _is_int(period) or period < 2):
            raise NetworkError(f"period must be an integer >= 2 for mode 'periodic', got {period!r}")
        if window is not None and (not _is_int(window) or window < 1):
            raise NetworkError(f"window must be an integer >= 1, got {window!r}")
        self.network = network
        self.mode = mode
        self.edge_probability = float(edge_probability)
        self.seed = int(seed)
        self.period = int(period)
        default = {"fixed": 1, "random": DEFAULT_RANDOM_WINDOW, "periodic": self.period}[mode]
        self.window = int(window) if window is not None else default
        self._edge_ids = np.arange(network.n_edges)
        self._base = ActiveGraph._of_network(network)
        self._last: tuple[int, np.ndarray, ActiveGraph | None] | None = None
        self._union: np.ndarray = np.zeros(network.n_edges, dtype=bool)
        self._union_window = -1
        self._union_seen: set[int] = set()
        if mode == "periodic" and self.window < self.period:
            for m in range(self.period // math.gcd(self.window, self.period)):  # the distinct windows
                problem = self._check_union(m, np.logical_or.reduce(
                    [self._mask(k) for k in range(m * self.window, (m + 1) * self.window)]))
                if problem is not None:
                    raise NetworkError(f"{self.describe()}: {problem}; use a window >= the period ({self.period})")
        if log.isEnabledFor(logging.DEBUG):
            log.debug("graph schedule: %s", self.describe())

    @property
    def is_fixed(self) -> bool:
        """True when every iteration's active graph is the base network (mode ``fixed``, or ``random`` with p = 1)."""
        return self.mode == "fixed" or (self.mode == "random" and self.edge_probability == 1.0)

    @property
    def base(self) -> ActiveGraph:
        """The graph of every edge of the network (what ``fixed`` uses at every iteration)."""
        return self._base

    def at(self, k: int) -> ActiveGraph:
        """The active graph of iteration ``k`` (>= 0); the last one is cached."""
        if self.is_fixed:
            _check_iteration(k)
            return self._base
        mask = self._mask(k)
        assert self._last is not None
        if self._last[2] is None:
            self._last = (self._last[0], mask, ActiveGraph._of_network(self.network, mask))
        return self._last[2]

    def window_check(self, k: int) -> str | None:
        """Accumulate iteration ``k``'s active edges into the union over its window [mB, (m+1)B); at the window's
        last iteration return a one-line message if that union is disconnected, else None.  Call once per iteration
        in increasing order (iterations of the window that were not passed are drawn at its end; calling again with
        the same k gives the same answer)."""
        _check_iteration(k)
        if self.is_fixed or self.mode == "periodic":  # the base network, or windows checked at construction
            return None
        m = k // self.window
        if m != self._union_window:
            self._union_window, self._union_seen = m, set()
            self._union = np.zeros(self.network.n_edges, dtype=bool)
        if k not in self._union_seen:
            self._union |= self._mask(k)
            self._union_seen.add(k)
        if k % self.window != self.window - 1:
            return None
        missing = [j for j in range(m * self.window, k) if j not in self._union_seen]
        if missing:
            log.debug("window_check: iterations %s of window %d were not passed; drawing them", missing, m)
            for j in missing:
                self._union |= self._mask(j)
        problem = self._check_union(m, self._union)  # the union restarts with the next window's first call
        if problem is not None:
            log.debug("window_check: %s", problem)
            return f"{problem}: the jointly connected assumption fails for this window"
        return None

    def describe(self) -> str:
        """One line, e.g. ``random edges (p=0.5, seed 3, window 20) over ring network: 10 agents, ...``."""
        detail = {"fixed": "fixed edges",
                  "random": f"random edges (p={self.edge_probability:g}, seed {self.seed}, window {self.window})",
                  "periodic": f"periodic edges (period {self.period}, window {self.window})"}[self.mode]
        return f"{detail} over {self.network.describe()}"

    # -- internals ---------------------------------------------------------------------------------------
    def _mask(self, k: int) -> np.ndarray:
        """Active base edges of iteration k as a boolean array in base edge order (the last one is cached)."""
        _check_iteration(k)
        if self._last is not None and self._last[0] == k:
            return self._last[1]
        if self.mode == "random":
            mask = np.random.default_rng([self.seed, int(k)]).random(self.network.n_edges) < self.edge_probability
        elif self.mode == "periodic":
            mask = self._edge_ids % self.period == k % self.period
        else:
            mask = np.ones(self.network.n_edges, dtype=bool)
        self._last = (int(k), mask, None)
        return mask

    def _check_union(self, m: int, union: np.ndarray) -> str | None:
        """None if the edges in ``union`` connect every agent, else what separates window m."""
        pairs = self.network._pairs[union]
        if component_labels(self.network.n_agents, pairs[:, 0], pairs[:, 1]).max(initial=0) == 0:
            return None
        groups = connected_groups(self.network.agents, itertools.compress(self.network.edges, union.tolist()))
        first, last = m * self.window + 1, (m + 1) * self.window
        return (f"the active edges of iterations {first}..{last} (1-based) leave the agents in {len(groups)} "
                f"separate groups {format_groups(groups)}")


def _is_int(value: object) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _check_iteration(k: int) -> None:
    if not _is_int(k) or k < 0:
        raise NetworkError(f"the iteration k must be an integer >= 0, got {k!r}")

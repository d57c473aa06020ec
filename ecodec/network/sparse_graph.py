"""Array kernels over a graph's edge list (nodes 0..n-1, edges as an E x 2 array of positions) that keep the
communication network layer near-linear for fleets of 10,000 agents and more.

Symbols as in :mod:`ecodec.network.graph`: N nodes, E edges, d_i the degree of node i, D the diameter (the
longest shortest path, in hops).  Metropolis-Hastings weights (Xiao, Boyd & Kim 2007)::

    w_ij = 1 / (1 + max(d_i, d_j))  for {i, j} in E,      w_ii = 1 - fsum_{j in N_i} w_ij

Row i needs d_i and the neighbours' degrees only: O(d_i).  ``fsum`` is the correctly rounded sum, so w_ii does
not depend on the order of the neighbours and the sparse rows and the dense matrix hold the same numbers.

Exact diameter (:func:`hop_diameter`): a complete graph has D = 1, a cycle floor(N / 2), a tree the largest
distance from the node farthest from any start (two breadth-first searches, O(N)).  Any other graph: a
breadth-first search from every node at once, each node holding the set of sources it has reached as bits (64
sources a machine word); one level ORs each node's newly reached bits into its neighbours', O(E N / 64) word
operations, and D + 1 levels reach everyone: O(D E N / 64) time, O(E + 16 N) words of memory per block of 1024
sources.  No exact diameter algorithm is known to run in near-linear time on sparse graphs (distinguishing
D = 2 from D = 3 is as hard as orthogonal vectors: Roditty & Vassilevska Williams, STOC 2013), and networkx's
bounded search (Takes & Kosters 2011, ``diameter(usebounds=True)``) needs one breadth-first search per few nodes
on random graphs whose eccentricities are all D - 1 or D (687 s at N = 10,000, E = 138,378; 4 s here).

Random graphs G(N, p) (:func:`gnp_pairs`) are the draws of ``networkx.gnp_random_graph(N, p, seed)``, number
for number: networkx takes one ``random.Random(seed).random()`` per pair (i, j), i < j, in lexicographic order
and keeps the pair when it is < p; numpy's legacy generator runs the same Mersenne Twister with the same 53-bit
doubles, so it is started from the state of ``random.Random(seed)`` and draws the N (N - 1) / 2 numbers in
blocks, in C (one pass over the pairs, 50 million at N = 10,000, of which networkx draws each in Python).
"""

from __future__ import annotations

import bisect
import math
import random
from collections.abc import Iterable, Sequence

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components, shortest_path

from ecodec.errors import NetworkError


def component_labels(n: int, first: Sequence[int] | np.ndarray, second: Sequence[int] | np.ndarray) -> np.ndarray:
    """The connected component of each of the nodes 0..n-1 over the edges (first[e], second[e]), O(n + E).

    >>> component_labels(4, [0, 2], [1, 3]).tolist()
    [0, 0, 1, 1]
    """
    first, second = np.asarray(first, dtype=np.int64), np.asarray(second, dtype=np.int64)
    adjacency = sp.coo_array((np.ones(first.size, dtype=np.int8), (first, second)), shape=(n, n))
    return connected_components(adjacency, directed=False)[1]


def edge_positions(index: dict[str, int], edges: Iterable[tuple[str, str]]) -> np.ndarray:
    """The edges as an E x 2 array of agent positions (``index``: name -> position).

    >>> edge_positions({"a": 0, "b": 1, "c": 2}, [("a", "c"), ("b", "c")]).tolist()
    [[0, 2], [1, 2]]
    """
    return np.array([(index[a], index[b]) for a, b in edges], dtype=np.int64).reshape(-1, 2)


def neighbours_of_pairs(agents: tuple[str, ...], pairs: np.ndarray) -> dict[str, tuple[str, ...]]:
    """Every agent's neighbours in agent order (empty if isolated), from the edges as positions (E x 2): O(E log E).

    >>> neighbours_of_pairs(("a", "b", "c"), np.array([[0, 2], [1, 2]]))
    {'a': ('c',), 'b': ('c',), 'c': ('a', 'b')}
    """
    owner = np.concatenate([pairs[:, 0], pairs[:, 1]])
    other = np.concatenate([pairs[:, 1], pairs[:, 0]])
    ordered = other[np.lexsort((other, owner))].tolist()
    ends = np.cumsum(np.bincount(owner, minlength=len(agents))).tolist()
    return {name: tuple(map(agents.__getitem__, ordered[start:end]))
            for name, start, end in zip(agents, [0, *ends[:-1]], ends)}


def metropolis_row(name: str, neighbours: dict[str, tuple[str, ...]], index: dict[str, int]) -> dict[str, float]:
    """Row ``name`` of the Metropolis-Hastings weights from the degrees of ``name`` and its neighbours, O(degree):
    {agent: weight} in agent order, self included, w_ii = 1 - fsum of the others (``neighbours`` in agent order).

    >>> metropolis_row("b", {"a": ("b",), "b": ("a", "c"), "c": ("b",)}, {"a": 0, "b": 1, "c": 2})
    {'a': 0.3333333333333333, 'b': 0.33333333333333337, 'c': 0.3333333333333333}
    """
    own = neighbours[name]
    degree = len(own)
    off = [1.0 / (1.0 + (degree if degree > other else other)) for other in map(len, map(neighbours.__getitem__, own))]
    at = bisect.bisect_left(own, index[name], key=index.__getitem__)
    row = dict(zip(own[:at], off[:at]))
    row[name] = 1.0 - math.fsum(off)
    row.update(zip(own[at:], off[at:]))
    return row


def metropolis_sparse(n: int, pairs: np.ndarray) -> sp.csr_array:
    """The N x N Metropolis-Hastings matrix over the edges ``pairs`` (E x 2 positions) as a CSR matrix with sorted
    column indices: the same numbers as :func:`metropolis_row` (diagonal 1 - fsum of the row), O(N + E).  A product
    with it adds each row's terms in agent order (what :meth:`ecodec.runtime.InProcessRuntime.mix` relies on).

    >>> metropolis_sparse(3, np.array([[0, 1], [1, 2]])).toarray().round(3).tolist()
    [[0.667, 0.333, 0.0], [0.333, 0.333, 0.333], [0.0, 0.333, 0.667]]
    """
    first, second = pairs[:, 0], pairs[:, 1]
    ends = np.concatenate([first, second])
    degree = np.bincount(ends, minlength=n)
    off = 1.0 / (1.0 + np.maximum(degree[first], degree[second]))
    by_agent = np.concatenate([off, off])[np.argsort(ends, kind="stable")]
    diagonal = [1.0 - math.fsum(part) for part in np.split(by_agent, np.cumsum(degree)[:-1])]
    everyone = np.arange(n)
    matrix = sp.csr_array((np.concatenate([off, off, diagonal]), (np.concatenate([first, second, everyone]),
                                                                  np.concatenate([second, first, everyone]))),
                          shape=(n, n))
    matrix.sort_indices()
    return matrix


def adjacency_sparse(n: int, pairs: np.ndarray) -> sp.csr_array:
    """The N x N adjacency matrix over the edges ``pairs`` (E x 2 positions), ones on the edges and nothing on the
    diagonal, as a CSR matrix with sorted column indices: a product with it adds each agent's neighbours' values in
    agent order.

    >>> adjacency_sparse(3, np.array([[0, 1], [1, 2]])).toarray().tolist()
    [[0.0, 1.0, 0.0], [1.0, 0.0, 1.0], [0.0, 1.0, 0.0]]
    """
    first, second = pairs[:, 0], pairs[:, 1]
    matrix = sp.csr_array((np.ones(2 * first.size), (np.concatenate([first, second]), np.concatenate([second, first]))),
                          shape=(n, n))
    matrix.sort_indices()
    return matrix


def mix_rows(weights: sp.csr_array, values: Sequence[np.ndarray]) -> np.ndarray:
    """``weights @ V``, V the arrays of ``values`` stacked in order (one per column of ``weights``, all of one shape):
    row i is  sum_j w_ij v_j  with its terms added one by one in column order, from 0 (a CSR product runs over each
    row's sorted entries), so a row's floats do not depend on which other rows are computed with it.

    >>> mix_rows(sp.csr_array([[0.5, 0.5, 0.0], [0.0, 0.25, 0.75]]), [np.ones(2), np.zeros(2), np.full(2, 4.0)])
    array([[0.5, 0.5],
           [3. , 3. ]])
    >>> mix_rows(sp.csr_array([[1.0, 0.0], [0.0, 1.0]]), [np.ones(2), np.ones(3)])
    Traceback (most recent call last):
    ValueError: a consensus mix needs arrays of one shape; got shapes [(2,), (3,)]
    """
    try:
        stacked = np.array(values, dtype=float)
    except ValueError:
        shapes = sorted({np.shape(v) for v in values})
        raise ValueError(f"a consensus mix needs arrays of one shape; got shapes {shapes}") from None
    return (weights @ stacked.reshape(len(values), -1)).reshape((weights.shape[0],) + stacked.shape[1:])


def hop_diameter(n: int, pairs: np.ndarray, block_words: int = 16) -> int:
    """The exact diameter, in hops, of the connected simple graph over nodes 0..n-1 with edges ``pairs`` (E x 2).

    A complete graph has diameter 1, a cycle n // 2; a tree's is found by two breadth-first searches (the node
    farthest from any node is an end of a longest path).  Otherwise, breadth-first search from all nodes at once,
    level by level: node v keeps the set of sources it has reached as bits, and a level ORs each node's newly
    reached bits into its neighbours'; the diameter is the number of levels until every node has reached every
    source.  Sources go in blocks of 64 ``block_words``; O(D E n / 64) word operations.

    >>> hop_diameter(5, np.array([[0, 1], [1, 2], [2, 3], [3, 4]]))
    4
    """
    if n <= 1 or len(pairs) == 0:
        return 0
    if component_labels(n, pairs[:, 0], pairs[:, 1]).max() > 0:
        raise NetworkError(f"the diameter of a disconnected graph ({n} nodes) is infinite")
    if len(pairs) == n * (n - 1) // 2:
        return 1
    if len(pairs) == n and (np.bincount(pairs.ravel(), minlength=n) == 2).all():
        return n // 2
    if len(pairs) == n - 1:
        adjacency = sp.coo_array((np.ones(n - 1), (pairs[:, 0], pairs[:, 1])), shape=(n, n)).tocsr()
        far = int(shortest_path(adjacency, directed=False, unweighted=True, indices=0).argmax())
        return int(shortest_path(adjacency, directed=False, unweighted=True, indices=far).max())
    order = np.argsort(target := np.concatenate([pairs[:, 1], pairs[:, 0]]), kind="stable")
    source, target = np.concatenate([pairs[:, 0], pairs[:, 1]])[order], target[order]
    starts = np.flatnonzero(np.r_[True, target[1:] != target[:-1]])
    receivers = target[starts]
    diameter = 0
    for first in range(0, n, 64 * block_words):
        sources = np.arange(first, min(n, first + 64 * block_words))
        bit = sources - first
        reached = np.zeros((n, (sources.size + 63) // 64), dtype=np.uint64)
        reached[sources, bit // 64] = np.left_shift(np.uint64(1), (bit % 64).astype(np.uint64))
        everyone = np.full(reached.shape[1], 2**64 - 1, dtype=np.uint64)  # every source's bit set
        everyone[-1] >>= np.uint64(64 * everyone.size - sources.size)
        frontier, level = reached.copy(), 0
        while not (reached == everyone).all():  # a further level would reach nothing new
            new = np.zeros_like(reached)
            new[receivers] = np.bitwise_or.reduceat(frontier[source], starts, axis=0)
            new &= ~reached
            reached |= new
            frontier, level = new, level + 1
        diameter = max(diameter, level)
    return diameter


def gnp_pairs(n: int, p: float, seed: int, block: int = 1 << 22) -> np.ndarray:
    """The edges (i < j, lexicographic order) of ``networkx.gnp_random_graph(n, p, seed)``: the same graph, drawn
    ``block`` pairs at a time (math: module docstring).

    >>> import networkx as nx
    >>> gnp_pairs(30, 0.2, 5).tolist() == [list(edge) for edge in nx.gnp_random_graph(30, 0.2, seed=5).edges()]
    True
    """
    if p >= 1.0:
        return np.stack(np.triu_indices(n, 1), axis=1).astype(np.int64)
    state = random.Random(seed).getstate()[1]
    stream = np.random.RandomState()
    stream.set_state(("MT19937", np.array(state[:624], dtype=np.uint32), state[624]))
    lengths = np.arange(n - 1, 0, -1, dtype=np.int64)  # row i pairs i with i+1..n-1
    found, row = [], 0
    while row < n - 1:
        last = max(row + 1, int(np.searchsorted(np.cumsum(lengths[row:]), block, side="right")) + row)
        offsets = np.concatenate([[0], np.cumsum(lengths[row:last])])
        kept = np.flatnonzero(stream.random_sample(int(offsets[-1])) < p)
        rows = np.searchsorted(offsets, kept, side="right") - 1
        found.append(np.stack([rows + row, rows + row + 1 + kept - offsets[rows]], axis=1))
        row = last
    return np.concatenate(found).astype(np.int64) if found else np.zeros((0, 2), dtype=np.int64)

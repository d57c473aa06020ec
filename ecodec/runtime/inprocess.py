"""The in-process runtime: every agent in this process, messages delivered exactly as the network allows.

A driver is written as SPMD code over *local agents*: it asks the runtime to run a function for each agent it
hosts (:meth:`InProcessRuntime.each`), to deliver what each agent sends to its neighbours
(:meth:`InProcessRuntime.exchange`) or each agent's consensus combination of it (:meth:`InProcessRuntime.mix`),
or to reduce values over all agents in the fixed agent order (:meth:`InProcessRuntime.sum`,
:meth:`InProcessRuntime.maximum`, :meth:`InProcessRuntime.gather`).  The MPI runtime (:mod:`ecodec.runtime.mpi`)
implements the same six calls over ranks, so the same driver code runs on both; the loop also calls
``checkpoint`` once per iteration, ``totals`` and ``broadcast``.

**mix** is an exchange followed, in every agent, by the weighted sum  sum_j a_ij v_j  of the arrays it received
and its own, with the Metropolis-Hastings weights a_ij of the graph (self included), the terms added in agent
order.  The runtime computes the sums of all the agents it hosts at once, as one product of the rows of the
graph's sparse weight matrix with the stacked arrays (:func:`~ecodec.network.sparse_graph.mix_rows`): each row
adds exactly the terms an agent would add, in the same order, so every runtime and every placement of the agents
gives the same floats; what it saves is a dictionary of arrays per agent and a gather of scattered arrays per
agent and iteration (profiled on the 10,000-vehicle fleet's Tracking-ADMM, 28 neighbours on average, per agent and
iteration: 69 us for the exchange and the agents' own sums, 2.3 us for ``mix``; 30 and 1.5 us at 100 vehicles).

Algorithm messages are counted: one message per array an agent sends to one neighbour (``messages``) and the
number of floats carried (``floats``).  Reductions made only to monitor a run (total cost, coupling violation
for the progress display and the history) are not algorithm messages and are not counted; reductions that are
part of an algorithm (a max-consensus computed by a coordinator, say) are counted by passing ``count=True``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TypeVar

import numpy as np

from ecodec.network import CommunicationNetwork
from ecodec.network.sparse_graph import mix_rows

T = TypeVar("T")


#: The weights :meth:`InProcessRuntime.mix` can combine with, and the graph's matrix of each
MIX_WEIGHTS = {"metropolis": "mixing_matrix", "adjacency": "adjacency_matrix"}


def weight_matrix(graph, weights: str):
    """``graph``'s sparse matrix of the ``weights`` of :data:`MIX_WEIGHTS`."""
    if weights not in MIX_WEIGHTS:
        raise ValueError(f"unknown mix weights {weights!r}; expected one of {', '.join(MIX_WEIGHTS)}")
    return getattr(graph, MIX_WEIGHTS[weights])


class InProcessRuntime:
    """Runs all agents of ``network`` in this process, in agent order."""

    name = "in-process"

    def __init__(self, network: CommunicationNetwork):
        self.network = network
        self.local_agents: tuple[str, ...] = tuple(network.agents)
        self.messages = 0
        self.floats = 0

    @property
    def is_root(self) -> bool:
        """True on the process that writes results (always, here)."""
        return True

    def each(self, fn: Callable[[str], T]) -> dict[str, T]:
        """``fn(agent)`` for every local agent, in agent order."""
        return {a: fn(a) for a in self.local_agents}

    def exchange(self, outgoing: Mapping[str, np.ndarray], graph=None) -> dict[str, dict[str, np.ndarray]]:
        """Each local agent sends its array to every neighbour; returns each agent's inbox {neighbour: array}.
        ``graph`` (an :class:`~ecodec.network.ActiveGraph` of a time-varying schedule) limits the exchange to the
        edges active at this iteration; by default every edge of the network carries a message."""
        graph = graph or self.network
        inbox = {}
        sizes = {j: np.size(v) for j, v in outgoing.items()}
        for a in self.local_agents:
            neighbours = graph.neighbours(a)
            inbox[a] = {j: outgoing[j] for j in neighbours}
            self.messages += len(neighbours)
            self.floats += sum([sizes[j] for j in neighbours])
        return inbox

    def mix(self, outgoing: Mapping[str, np.ndarray], graph=None, weights: str = "metropolis") -> dict[str, np.ndarray]:
        """Each local agent's  sum_j a_ij(graph) v_j  over itself and its neighbours in ``graph`` (default: every
        edge of the network), ``outgoing`` holding every agent's v (all of one shape); counted as :meth:`exchange`.
        ``weights``: "metropolis" (a_ij the Metropolis-Hastings weights, self included) or "adjacency" (a_ij = 1
        for each neighbour j, 0 for the agent itself: the plain sum of what the neighbours sent).

        >>> runtime = InProcessRuntime(CommunicationNetwork.named("path", ["a", "b", "c"]))
        >>> mixed = runtime.mix({"a": np.array([3.0]), "b": np.array([0.0]), "c": np.array([6.0])})
        >>> {name: value.tolist() for name, value in mixed.items()}, runtime.totals()
        ({'a': [2.0], 'b': [3.0], 'c': [4.0]}, (4, 4))
        """
        graph = graph or self.network
        mixed = mix_rows(weight_matrix(graph, weights), [outgoing[a] for a in self.local_agents])
        self.messages += 2 * graph.n_edges
        self.floats += 2 * graph.n_edges * (mixed[0].size if len(mixed) else 0)
        return dict(zip(self.local_agents, mixed))

    def sum(self, values: Mapping[str, np.ndarray | float], *, count: bool = False) -> np.ndarray:
        """Sum over all agents, added in agent order (so the result never depends on how agents are placed)."""
        total = None
        for a in self.network.agents:
            v = np.asarray(values[a], dtype=float)
            total = v.copy() if total is None else total + v
        self._count(values, count)
        return total

    def maximum(self, values: Mapping[str, np.ndarray | float], *, count: bool = False) -> np.ndarray:
        """Elementwise maximum over all agents."""
        out = np.max(np.stack([np.asarray(values[a], dtype=float) for a in self.network.agents]), axis=0)
        self._count(values, count)
        return out

    def gather(self, values: Mapping[str, T]) -> dict[str, T]:
        """Every agent's value on the root process, in agent order (for results; not counted)."""
        return {a: values[a] for a in self.network.agents}

    def count_broadcast(self, size: int) -> None:
        """Count a coordinator's message of ``size`` floats to every agent (the coordinator's own computation is
        repeated identically wherever agents run, so nothing travels here)."""
        self.messages += len(self.network.agents)
        self.floats += size * len(self.network.agents)

    def broadcast(self, value: T) -> T:
        """The root's value on every process (here: the value itself)."""
        return value

    def checkpoint(self, k: int) -> bool:
        """Start of iteration k; True when another process asked to stop (never here: Ctrl-C raises
        KeyboardInterrupt directly)."""
        return False

    def totals(self) -> tuple[int, int]:
        """(messages, floats) sent by all agents."""
        return self.messages, self.floats

    def close(self) -> None:
        """Nothing to release in one process."""

    def _count(self, values: Mapping[str, np.ndarray | float], count: bool) -> None:
        if count:
            self.messages += len(self.network.agents)
            self.floats += sum(np.size(values[a]) for a in self.network.agents)

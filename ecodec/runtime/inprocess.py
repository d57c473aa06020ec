"""The in-process runtime: every agent in this process, messages delivered exactly as the network allows.

A driver is written as SPMD code over *local agents*: it asks the runtime to run a function for each agent it
hosts (:meth:`InProcessRuntime.each`), to deliver what each agent sends to its neighbours
(:meth:`InProcessRuntime.exchange`), or to reduce values over all agents in the fixed agent order
(:meth:`InProcessRuntime.sum`, :meth:`InProcessRuntime.maximum`, :meth:`InProcessRuntime.gather`).  The MPI
runtime (:mod:`ecodec.runtime.mpi`) implements the same five calls over ranks, so the same driver code runs on
both; the loop also calls ``checkpoint`` once per iteration, ``totals`` and ``broadcast``.

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

T = TypeVar("T")


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

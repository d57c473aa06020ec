"""The MPI runtime: the agents spread over the ranks of an MPI job, the same six calls as in one process.

A driver runs unchanged (SPMD): every rank executes the same driver code for the agents it hosts.

* **Placement.** :func:`~ecodec.runtime.placement.partition` cuts the agents, in their fixed order, into one
  contiguous block per rank, balanced by a per-agent cost estimate (or by count): block r holds the agents whose
  cumulative weight falls in [r W / R, (r + 1) W / R), W the total weight.  **each** runs a function for the local
  agents only.
* **exchange** delivers each agent's array to its neighbours: directly on the same rank, otherwise in ONE message
  per pair of ranks joined by an edge of ``graph`` (on a time-varying graph the edges active at this iteration):
  a float64 buffer ``[flag, x_1, ..., x_m]``, the crossing arrays flattened in agent order.  The plan (who sends
  what to whom) is cached per graph object; shapes are cached at both ends per call position (calls since the last
  :meth:`~MPIRuntime.checkpoint`, equal on every rank) and peer.  Flag 0: the cached shapes; 1: new shapes, their
  pickled tuple and the data follow; 3: not float64 ndarrays, a pickled list follows (docs/mpi_performance.md).
  Each inbox is rebuilt in the network's neighbour order, exactly as in one process.  **mix** is that exchange
  and then the product of the local agents' rows of the graph's weight matrix (over the agents they hear from,
  in agent order) with those agents' arrays: every row adds its terms in the order it adds them in one process.
* **sum** adds the values in agent order with a pipeline: rank 0 adds its agents' values one by one and passes the
  partial sum to rank 1 (a bundle of one array, as above), which goes on adding its own, and so on; the last rank
  broadcasts the total (``Bcast`` of ``[flag, total]``, its shape cached per call position; flag 2: no agents).
  The additions are those of the in-process runtime, in the same order, so the total is bit for bit the same for
  any number of ranks.  **maximum** is order-free: one ``Allreduce(MAX)`` of ``[flag, local maximum]`` (-inf on a
  rank without agents; a new shape or a NaN, which MAX does not propagate, raises the flag and the local maxima
  are all-gathered).  **checkpoint** is one ``Allreduce`` of one int.  **gather** and **broadcast** (set-up and
  results) pickle.
* **Counters.** ``messages`` counts what the algorithm sends, as in one process (the same on every rank: it follows
  from the network or the active graph); ``floats`` is summed over the ranks by :meth:`MPIRuntime.totals`;
  :meth:`MPIRuntime.mpi_traffic` counts what this rank put on the wire.
* **Too many ranks.** Each rank pays a fixed price per call (tens of microseconds, docs/mpi_performance.md):
  rank 0 warns once (:func:`~ecodec.runtime.placement.advise_ranks`) when a rank would host fewer than
  :data:`~ecodec.runtime.placement.MIN_AGENTS_PER_RANK` agents on average or a host runs more ranks than the cores
  a process may use (``os.sched_getaffinity``), naming the ranks it advises.
* **Stopping, liveness, failures** (:mod:`ecodec.runtime.mpi_process`): Ctrl-C and the launcher's SIGUSR1 only
  set a flag, which :meth:`MPIRuntime.checkpoint` ORs over the ranks once per iteration, so all ranks stop after
  the same iteration; each rank records every iteration, agent and communication on the status board for the
  launcher's watchdog (:mod:`ecodec.runtime.watchdog`); an exception on an agent is reported (rank, agent,
  iteration) and aborts the job (MPI_Abort), so no rank waits forever for a dead peer.
"""

from __future__ import annotations

import itertools
import logging
import math
import pickle
from collections.abc import Callable, Mapping
from typing import TypeVar

import numpy as np

from ecodec.network import CommunicationNetwork
from ecodec.network.sparse_graph import mix_rows
from ecodec.runtime.inprocess import weight_matrix
from ecodec.runtime.placement import advise_ranks, partition
from ecodec.runtime.mpi_process import _interrupted, abort_job, catch_interrupts
from ecodec.runtime.status import StatusBoard

log = logging.getLogger(__name__)

T = TypeVar("T")
_EXCHANGE, _SUM = 11, 12
_SAME, _NEW, _NONE, _OBJECT = 0.0, 1.0, 2.0, 3.0  # the flag word leading every buffer (module docstring)
#: The counters of :meth:`MPIRuntime.mpi_traffic`
TRAFFIC = ("p2p_messages", "p2p_bytes", "pickled_messages", "collectives", "collective_bytes")


def _ends(shapes: tuple) -> list[int]:
    """Where each array of a bundle ends in its buffer, after the flag word."""
    return list(itertools.accumulate((math.prod(shape) for shape in shapes), initial=1))


class _Recent(dict):
    """A cache per graph object that forgets everything once it holds 16 (a time-varying graph makes one per
    iteration)."""

    def __setitem__(self, key, value) -> None:
        if len(self) >= 16:
            self.clear()
        super().__setitem__(key, value)


class MPIRuntime:
    """Runs the agents of ``network`` placed on the ranks of ``comm`` (default COMM_WORLD); see the module
    docstring."""

    name = "mpi"

    def __init__(self, network: CommunicationNetwork, comm=None, weights: Mapping[str, float] | None = None):
        from mpi4py import MPI

        self._mpi = MPI
        self.comm = comm if comm is not None else MPI.COMM_WORLD
        self.rank, self.size = self.comm.Get_rank(), self.comm.Get_size()
        self.name = f"mpi ({self.size} rank{'s' if self.size > 1 else ''})"
        self.network = network
        self.owner = partition(tuple(network.agents), self.size, weights)
        self.local_agents: tuple[str, ...] = tuple(a for a in network.agents if self.owner[a] == self.rank)
        self._index = {a: k for k, a in enumerate(self.local_agents)}
        self.peers = sorted({self.owner[j] for a in self.local_agents for j in network.neighbours(a)} - {self.rank})
        self._order = {a: k for k, a in enumerate(network.agents)}
        self._exchange_messages = sum(len(network.neighbours(a)) for a in network.agents)
        self.messages = 0
        self.floats = 0
        self._iteration = -1
        self._plans: dict[int, tuple] = _Recent()  # id(graph) -> (graph, plan)
        self._mixings: dict[tuple, tuple] = _Recent()  # (id(graph), weights) -> (graph, (columns, rows))
        self._shapes: dict[tuple, object] = {}  # call position (and peer) -> the shapes both ends expect
        self._calls: dict[str, int] = {}  # calls of each kind since the last checkpoint
        self._traffic = dict.fromkeys(TRAFFIC, 0)
        self._loop: tuple[dict, dict | None] | None = None  # the counters at the loop's start (and end)
        catch_interrupts()  # first: it may enter this rank on the board (without agents), which the next line updates
        self.board = StatusBoard(self.rank, self.local_agents)
        log.info("rank %d of %d hosts %d agents (%s)", self.rank, self.size, len(self.local_agents),
                 ", ".join(self.local_agents[:5]) + (" ..." if len(self.local_agents) > 5 else ""))
        advise_ranks(self.comm, len(network.agents))

    # -- the runtime calls ------------------------------------------------------------------------------------
    @property
    def is_root(self) -> bool:
        return self.rank == 0

    def each(self, fn: Callable[[str], T]) -> dict[str, T]:
        out = {}
        for a in self.local_agents:
            self.board.agent(self._index[a])
            try:
                out[a] = fn(a)
            except Exception as exc:  # noqa: BLE001 - any failure on one rank must stop every rank
                self.fail(f"{type(exc).__name__}: {exc}", agent=a)
        self.board.agent(-1)
        return out

    def exchange(self, outgoing: Mapping[str, np.ndarray], graph=None) -> dict[str, dict[str, np.ndarray]]:
        graph = graph or self.network
        arrays = self._deliver(outgoing, graph)
        return {a: {j: arrays[j] for j in graph.neighbours(a)} for a in self.local_agents}

    def mix(self, outgoing: Mapping[str, np.ndarray], graph=None, weights: str = "metropolis") -> dict[str, np.ndarray]:
        """Each local agent's  sum_j a_ij v_j  (the in-process runtime's :meth:`~ecodec.runtime.InProcessRuntime.mix`):
        one exchange, then the local agents' rows of the graph's weight matrix, restricted to the agents they hear
        from, times those agents' arrays: each row adds the terms it adds in one process, in the same order."""
        graph = graph or self.network
        arrays = self._deliver(outgoing, graph)
        if not self.local_agents:
            return {}
        columns, rows = self._mixing(graph, weights)
        return dict(zip(self.local_agents, mix_rows(rows, [arrays[a] for a in columns])))

    def _deliver(self, outgoing: Mapping[str, np.ndarray], graph) -> dict[str, np.ndarray]:
        """The arrays the local agents hear over ``graph``, by sender: the local agents' own and, in one bundle per
        peer rank, those of their neighbours on other ranks (module docstring); counted."""
        plan, position = self._plan(graph), self._position("exchange")
        arrays = {a: outgoing[a] for a in self.local_agents}
        self.floats += sum(np.size(outgoing[a]) * len(graph.neighbours(a)) for a in self.local_agents)
        self.board.waiting(True)
        requests = [q for r, senders in plan[0] for q in
                    self._send([outgoing[a] for a in senders], r, ("out", position, r), _EXCHANGE)]
        for r, senders in plan[1]:
            arrays.update(zip(senders, self._receive(r, ("in", position, r), _EXCHANGE)))
        self._mpi.Request.Waitall(requests)
        self.board.waiting(False)
        self.messages += self._exchange_messages if graph is self.network else 2 * graph.n_edges
        return arrays

    def sum(self, values: Mapping[str, np.ndarray | float], *, count: bool = False) -> np.ndarray:
        position, before, after = self._position("sum"), self.rank - 1, self.rank + 1
        self.board.waiting(True)
        partial = (self._receive(before, ("in", position, before), _SUM) or [None])[0] if self.rank else None
        for a in self.local_agents:
            v = np.asarray(values[a], dtype=float)
            partial = v.copy() if partial is None else partial + v
        if after < self.size:
            self._mpi.Request.Waitall(self._send([] if partial is None else [np.asarray(partial)], after,
                                                 ("out", position, after), _SUM))
        total = self._broadcast_total(partial, position)
        self.board.waiting(False)
        self._count(values, count)
        return total[()] if total is not None and total.ndim == 0 and len(self.network.agents) > 1 else total

    def _broadcast_total(self, partial, position: tuple) -> np.ndarray | None:
        """The last rank's sum on every rank: one ``Bcast`` when its shape is the one of this call last time."""
        last, expected = self.size - 1, self._shapes.get(position)
        head = np.empty(1 + (math.prod(expected) if expected is not None else 0))
        if self.rank == last:
            same = partial is not None and np.shape(partial) == expected
            head[0] = _SAME if same else _NONE if partial is None else _NEW
            if same:
                head[1:] = np.ravel(partial)
        self._bcast(head, last)
        if head[0] != _NEW:
            return None if head[0] == _NONE else head[1:].reshape(expected)
        self._shapes[position] = shape = self.comm.bcast(np.shape(partial) if self.rank == last else None, last)
        self._tally("collective", 0)
        total = np.array(partial, dtype=float) if self.rank == last else np.empty(shape)
        self._bcast(total, last)
        return total

    def maximum(self, values: Mapping[str, np.ndarray | float], *, count: bool = False) -> np.ndarray:
        position = self._position("maximum")
        expected = self._shapes.get(position)
        local = [np.asarray(values[a], dtype=float) for a in self.local_agents]
        mine = np.max(np.stack(local), axis=0) if local else None
        buffer = np.full(1 + (math.prod(expected) if expected is not None else 0), -np.inf)
        usual = expected is not None and (mine is None or (mine.shape == expected and not np.isnan(mine).any()))
        buffer[0] = _SAME if usual else _NEW
        buffer[1:] = mine.reshape(-1) if usual and mine is not None else buffer[1:]
        self.board.waiting(True)
        self.comm.Allreduce(self._mpi.IN_PLACE, buffer, op=self._mpi.MAX)
        self._tally("collective", buffer.nbytes)
        out = buffer[1:].reshape(expected) if buffer[0] == _SAME else None
        if out is None:  # a new shape or a NaN somewhere: the local maxima themselves
            out = np.max(np.stack([m for m in self.comm.allgather(mine) if m is not None]), axis=0)
            self._tally("collective", 0)
            self._shapes[position] = np.shape(out)
        self.board.waiting(False)
        self._count(values, count)
        return out[()] if np.ndim(out) == 0 else out

    def gather(self, values: Mapping[str, T]) -> dict[str, T]:
        """Every agent's value on rank 0, in agent order; an empty dict on the other ranks."""
        self.board.waiting(True)
        parts = self.comm.gather(dict(values), root=0)
        self._tally("collective", 0)
        self.board.waiting(False)
        if not self.is_root:
            return {}
        merged = {a: value for part in parts for a, value in part.items()}
        return {a: merged[a] for a in self.network.agents}

    def count_broadcast(self, size: int) -> None:
        """Count a coordinator's message of ``size`` floats to every agent (see the in-process runtime)."""
        self.messages += len(self.network.agents)
        self.floats += size * len(self.local_agents)

    def broadcast(self, value: T) -> T:
        """Rank 0's ``value`` on every rank."""
        self.board.waiting(True)
        value = self.comm.bcast(value, root=0)
        self._tally("collective", 0)
        self.board.waiting(False)
        return value

    def checkpoint(self, k: int) -> bool:
        """Start of iteration k (0-based) on every rank: True on all ranks when any rank was interrupted."""
        if self._loop is None or self._loop[1] is not None:
            self._loop = (dict(self._traffic), None)
        self._iteration = k
        self._calls.clear()
        self.board.iteration(k)
        self.board.waiting(True)
        flag = np.array([int(_interrupted.is_set())], dtype=np.int32)
        self.comm.Allreduce(self._mpi.IN_PLACE, flag, op=self._mpi.MAX)
        self._tally("collective", flag.nbytes)
        self.board.waiting(False)
        return bool(flag[0])

    def totals(self) -> tuple[int, int]:
        """(messages, floats) over all ranks; every rank must call it.  The driver loop calls it at the end of a run
        (and a state checkpoint before it writes): from here on the rank assembles and writes results, which the
        watchdog does not time until the next per-iteration checkpoint, if any."""
        if self._loop is not None and self._loop[1] is None:
            self._loop = (self._loop[0], dict(self._traffic))
        self.board.finishing()
        self.board.waiting(True)
        floats = int(self.comm.allreduce(self.floats))
        self._tally("collective", 0)
        self.board.waiting(False)
        return self.messages, floats

    def mpi_traffic(self) -> dict[str, dict[str, int]]:
        """What this rank put on the wire: ``{"total": counters, "loop": counters}``, the loop's from the first
        checkpoint of the latest driver loop to its totals (or to now); counters (:data:`TRAFFIC`): point-to-point
        messages and bytes sent, collective calls and their buffer bytes (0 for a pickled one).  One rank:

        >>> from ecodec.network import CommunicationNetwork
        >>> runtime = MPIRuntime(CommunicationNetwork.from_edges(["a", "b"], [("a", "b")]))
        >>> for k in range(3):  # the first sum also broadcasts its shape, later ones one buffer [flag, total]
        ...     stop = runtime.checkpoint(k)
        ...     total = runtime.sum({"a": 1.0, "b": 2.0})
        >>> runtime.mpi_traffic()["loop"]["collectives"], runtime.mpi_traffic()["loop"]["collective_bytes"]
        (8, 60)
        """
        start, end = self._loop or (dict.fromkeys(TRAFFIC, 0), None)
        end = end or self._traffic
        return {"total": dict(self._traffic), "loop": {key: end[key] - start[key] for key in TRAFFIC}}

    # -- the wire ------------------------------------------------------------------------------------------------
    def _position(self, kind: str) -> tuple[str, int]:
        """(kind, calls of this kind since the last checkpoint, modulo 64): the same on every rank (SPMD).  Only
        speed depends on it (a shape cached under a position is checked); the modulo bounds the cache."""
        n = self._calls.get(kind, 0)
        self._calls[kind] = (n + 1) % 64
        return kind, n

    def _plan(self, graph) -> tuple:
        """Over ``graph``: (rank, local senders to it) and (rank, its senders to this rank), senders in agent order;
        once per graph object (up to 16 kept)."""
        hit = self._plans.get(id(graph))
        if hit is not None and hit[0] is graph:
            return hit[1]
        send, recv = {}, {}
        for a in self.local_agents:
            for j in graph.neighbours(a):
                if self.owner[j] != self.rank:  # the graph is undirected: a sends to j and j to a
                    send.setdefault(self.owner[j], {})[a] = None
                    recv.setdefault(self.owner[j], set()).add(j)
        plan = (tuple((r, tuple(senders)) for r, senders in sorted(send.items())),
                tuple((r, tuple(sorted(senders, key=self._order.__getitem__))) for r, senders in sorted(recv.items())))
        self._plans[id(graph)] = (graph, plan)
        return plan

    def _mixing(self, graph, weights: str) -> tuple[tuple[str, ...], object]:
        """Over ``graph``: the agents the local agents hear from, themselves included, in agent order, and the local
        agents' rows of the graph's matrix of ``weights`` over those columns; once per graph object and weights (up
        to 16 kept)."""
        hit = self._mixings.get((id(graph), weights))
        if hit is not None and hit[0] is graph:
            return hit[1]
        heard = {j for a in self.local_agents for j in graph.neighbours(a)} | set(self.local_agents)
        columns = tuple(sorted(heard, key=self._order.__getitem__))
        matrix = weight_matrix(graph, weights)
        rows = matrix[[self._order[a] for a in self.local_agents]][:, [self._order[a] for a in columns]]
        rows.sort_indices()
        self._mixings[(id(graph), weights)] = (graph, (columns, rows))
        return columns, rows

    def _send(self, arrays: list, r: int, key: tuple, tag: int) -> list:
        """Start sending a bundle of arrays to rank ``r`` (module docstring); the requests to wait for."""
        if not all(type(x) is np.ndarray and x.dtype == np.float64 for x in arrays):
            return [self._isend(np.array([_OBJECT]), r, tag), self._isend(arrays, r, tag)]
        shapes, requests, known = tuple(x.shape for x in arrays), [], self._shapes.get(key)
        if known is None or known[0] != shapes:
            self._shapes[key] = known = (shapes, _ends(shapes))
            requests += [self._isend(np.array([_NEW]), r, tag), self._isend(shapes, r, tag)]
        buffer = np.empty(known[1][-1])
        buffer[0] = _SAME
        for x, a, b in zip(arrays, known[1], known[1][1:]):
            buffer[a:b] = x.reshape(-1)
        return requests + [self._isend(buffer, r, tag)]

    def _isend(self, message, r: int, tag: int):
        """Start sending a float64 buffer (``Isend``) or else a pickled object (``isend``), counted."""
        if isinstance(message, np.ndarray):
            self._tally("p2p", message.nbytes)
            return self.comm.Isend(message, dest=r, tag=tag)
        self._tally("p2p", len(pickle.dumps(message, pickle.HIGHEST_PROTOCOL)), pickled=True)
        return self.comm.isend(message, dest=r, tag=tag)

    def _receive(self, r: int, key: tuple, tag: int) -> list:
        """The bundle of arrays rank ``r`` sends (module docstring)."""
        known = self._shapes.get(key)
        buffer = np.empty(known[1][-1] if known else 1)
        self.comm.Recv(buffer, source=r, tag=tag)
        if buffer[0] == _OBJECT:
            return self.comm.recv(source=r, tag=tag)
        if buffer[0] == _NEW:
            shapes = self.comm.recv(source=r, tag=tag)
            self._shapes[key] = known = (shapes, _ends(shapes))
            buffer = np.empty(known[1][-1])
            self.comm.Recv(buffer, source=r, tag=tag)
        return [buffer[a:b].reshape(s) for s, a, b in zip(known[0], known[1], known[1][1:])]

    def _bcast(self, buffer: np.ndarray, root: int) -> None:
        self.comm.Bcast(buffer, root=root)
        self._tally("collective", buffer.nbytes)

    def _tally(self, kind: str, nbytes: int, pickled: bool = False) -> None:
        """Count one message (``kind`` "p2p") or collective call ("collective") of ``nbytes`` bytes."""
        counts = self._traffic
        counts["p2p_messages" if kind == "p2p" else "collectives"] += 1
        counts[f"{kind}_bytes"] += nbytes
        counts["pickled_messages"] += pickled and kind == "p2p"

    # -- failures and the end -----------------------------------------------------------------------------------
    def fail(self, reason: str, agent: str | None = None) -> None:
        """Report a failure on this rank (board and stderr) and abort the whole job."""
        where = f"at iteration {self._iteration + 1}" if self._iteration >= 0 else "during set-up"
        on = f" while working on agent '{agent}'" if agent is not None else ""
        abort_job(self.comm, f"rank {self.rank} of {self.size} failed {where}{on}: {reason}")

    def close(self) -> None:
        """Nothing to release: the communicator belongs to the process."""

    def _count(self, values: Mapping[str, np.ndarray | float], count: bool) -> None:
        if count:
            self.messages += len(self.network.agents)
            self.floats += sum(np.size(values[a]) for a in self.local_agents)

"""The MPI runtime: the agents spread over the ranks of an MPI job, the same five calls as in one process.

A driver runs unchanged (SPMD): every rank executes the same driver code for the agents it hosts.

* **Placement.** :func:`partition` cuts the agents, in their fixed order, into one contiguous block per rank,
  balanced by a per-agent cost estimate (or by count): block r holds the agents whose cumulative weight falls in
  [r W / R, (r + 1) W / R), W the total weight.  Contiguous blocks keep the agent order across ranks.
* **each** runs a function for the local agents only.
* **exchange** delivers each agent's array to its neighbours: directly on the same rank, otherwise as one MPI
  point-to-point message per pair of neighbouring ranks carrying every array that crosses between them.  Each
  inbox is rebuilt in the neighbour order of the network, exactly as in one process.  On a time-varying graph
  (``graph``: the edges active at this iteration, computed identically on every rank) only active edges carry
  arrays; the ranks still trade one (possibly empty) bundle per neighbouring rank, so no rank waits for a
  message that is not coming.
* **sum** adds the values in agent order with a pipeline: rank 0 adds its agents' values one by one and passes the
  partial sum to rank 1, which goes on adding its own, and so on; the last rank broadcasts the total.  The
  additions are those of the in-process runtime, in the same order, so the total is bit for bit the same for any
  number of ranks.  **maximum** is order-free (an all-gather of local maxima); **gather** collects on rank 0.
* **Counters.** ``messages`` counts what the algorithm sends, as in one process; it is the same on every rank
  because every agent takes part in every exchange (the count follows from the network or the active graph).
  ``floats`` is summed over the ranks by :meth:`MPIRuntime.totals`.
* **Stopping.** Ctrl-C (SIGINT) and SIGUSR1 only set a flag; :meth:`MPIRuntime.checkpoint`, called by the driver
  loop once per iteration on every rank, ORs the flags so that all ranks stop after the same iteration and the
  root keeps the history.  SIGUSR1 is how the launcher asks the ranks to stop (mpiexec forwards it to every rank);
  unlike SIGINT it never escalates, so a rank that gets both (a terminal's Ctrl-C reaches the launcher and, through
  mpiexec, the ranks) still stops with the others.  A second SIGINT stops the rank at once.  At exit both are
  ignored (:func:`_ignore_stop_requests` says why).
* **Liveness.** Each rank enters the status board as soon as it starts (:func:`catch_interrupts`) and records
  there every iteration, every agent it works on and every communication it waits in, for the launcher's
  watchdog (:mod:`ecodec.runtime.watchdog`).  Under ``ecodec ... --ranks`` each rank also follows its launcher and
  ends at once, writing nothing, when the launcher is gone (:func:`ecodec.runtime.processes.follow_launcher`).
* **Failures.** An exception while working on an agent is written to the status board
  (:mod:`ecodec.runtime.status`) and to stderr, naming the rank, the agent and the iteration, and the whole job is
  aborted (MPI_Abort), so no rank waits forever for a dead peer.  A killed rank is detected by the launcher.
"""

from __future__ import annotations

import atexit
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Mapping
from typing import TypeVar

import numpy as np

from ecodec.network import CommunicationNetwork
from ecodec.runtime.processes import follow_launcher
from ecodec.runtime.status import LAUNCHED_ENV, StatusBoard, record_rank_error, register_rank

log = logging.getLogger(__name__)

T = TypeVar("T")
_EXCHANGE, _SUM = 11, 12


def partition(agents: tuple[str, ...], ranks: int, weights: Mapping[str, float] | None = None) -> dict[str, int]:
    """The rank of each agent: contiguous blocks in agent order with about equal total weight (see the module
    docstring); every weight 1 when ``weights`` is None."""
    w = np.array([float(weights[a]) if weights is not None else 1.0 for a in agents])
    if np.any(w <= 0):
        raise ValueError("agent weights must be positive")
    start = np.concatenate([[0.0], np.cumsum(w)[:-1]])
    block = np.minimum((start / w.sum() * ranks).astype(int), ranks - 1) if len(agents) else []
    return {a: int(r) for a, r in zip(agents, block)}


def mpi_launched() -> bool:
    """True when this process was started by an MPI launcher (mpiexec/mpirun of MPICH or Open MPI)."""
    return any(key in os.environ for key in ("PMI_RANK", "PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "PMIX_RANK"))


_interrupted = threading.Event()
_started: list[StatusBoard] = []  # this process's first board entry, once made
_sigints = [0]


def catch_interrupts() -> None:
    """Start this rank: from now on Ctrl-C (SIGINT) and SIGUSR1 in this process only raise a flag, read by
    :meth:`MPIRuntime.checkpoint`, so that every rank stops after the same iteration (a second SIGINT stops this
    process at once); the rank enters the status board and, under ``ecodec ... --ranks``, follows its launcher
    (see the module docstring).  Called by the runtime and, before anything else, by the command line under MPI,
    so the launcher knows every rank's process from its first second, before the case is even read."""
    if threading.current_thread() is not threading.main_thread():
        return

    def on_interrupt(signum, frame):
        if signum == signal.SIGINT:
            _sigints[0] += 1
            if _sigints[0] > 1:
                raise KeyboardInterrupt
        if not _interrupted.is_set():
            _interrupted.set()
            log.warning("interrupt received; every rank stops after the current iteration")

    signal.signal(signal.SIGINT, on_interrupt)
    signal.signal(signal.SIGUSR1, on_interrupt)
    if not _started:
        from mpi4py import MPI

        _started.append(register_rank(MPI.COMM_WORLD.Get_rank()))
        follow_launcher(os.environ.get(LAUNCHED_ENV))
        atexit.register(_ignore_stop_requests)


def _ignore_stop_requests() -> None:
    """At exit, ignore SIGINT and SIGUSR1.  As Python shuts down it gives every signal it handled its default
    action back, which for SIGUSR1 is to end the process: a stop request arriving late (mpiexec forwards the
    launcher's a moment after the terminal's Ctrl-C stopped the ranks) would kill a rank that ended normally,
    and mpiexec would then kill the ranks still writing the results.  An ignored signal stays ignored."""
    for signum in (signal.SIGINT, signal.SIGUSR1):
        signal.signal(signum, signal.SIG_IGN)


def abort_job(comm, message: str, lost_peer: bool = False) -> None:
    """Record ``message`` on the status board, print it (unless the launcher will) and abort every rank.

    ``lost_peer``: this rank did not fail itself, a communication with a rank that died did; the launcher then
    names the dead rank rather than this one."""
    record_rank_error(comm.Get_rank(), message, lost_peer=lost_peer)
    if not os.environ.get(LAUNCHED_ENV):  # under `ecodec ... --ranks` the launcher reports it
        print(f"error: {message}; every rank is stopped", file=sys.__stderr__, flush=True)
    try:
        comm.Abort(1)
    finally:  # an abort while the job is already being torn down may return or raise: end this process anyway
        os._exit(1)


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
        self._exchange_messages = sum(len(network.neighbours(a)) for a in network.agents)
        self.messages = 0
        self.floats = 0
        self._iteration = -1
        catch_interrupts()  # first: it may enter this rank on the board (without agents), which the next line updates
        self.board = StatusBoard(self.rank, self.local_agents)
        log.info("rank %d of %d hosts %d agents (%s)", self.rank, self.size, len(self.local_agents),
                 ", ".join(self.local_agents[:5]) + (" ..." if len(self.local_agents) > 5 else ""))

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
        received: dict[str, dict[str, np.ndarray]] = {a: {} for a in self.local_agents}
        bundles: dict[int, dict[str, np.ndarray]] = {r: {} for r in self.peers}
        for a in self.local_agents:
            for j in graph.neighbours(a):
                if self.owner[j] == self.rank:
                    received[j][a] = outgoing[a]
                else:
                    bundles[self.owner[j]][a] = outgoing[a]
            self.floats += np.size(outgoing[a]) * len(graph.neighbours(a))
        self.board.waiting(True)
        requests = [self.comm.isend(bundles[r], dest=r, tag=_EXCHANGE) for r in self.peers]
        for r in self.peers:
            for sender, array in self.comm.recv(source=r, tag=_EXCHANGE).items():
                for j in graph.neighbours(sender):
                    if self.owner[j] == self.rank:
                        received[j][sender] = array
        self._mpi.Request.waitall(requests)
        self.board.waiting(False)
        self.messages += self._exchange_messages if graph is self.network else 2 * graph.n_edges
        return {a: {j: received[a][j] for j in graph.neighbours(a)} for a in self.local_agents}

    def sum(self, values: Mapping[str, np.ndarray | float], *, count: bool = False) -> np.ndarray:
        self.board.waiting(True)
        partial = self.comm.recv(source=self.rank - 1, tag=_SUM) if self.rank > 0 else None
        for a in self.local_agents:
            v = np.asarray(values[a], dtype=float)
            partial = v.copy() if partial is None else partial + v
        if self.rank < self.size - 1:
            self.comm.send(partial, dest=self.rank + 1, tag=_SUM)
        total = self.comm.bcast(partial, root=self.size - 1)
        self.board.waiting(False)
        self._count(values, count)
        return total

    def maximum(self, values: Mapping[str, np.ndarray | float], *, count: bool = False) -> np.ndarray:
        local = [np.asarray(values[a], dtype=float) for a in self.local_agents]
        self.board.waiting(True)
        maxima = [m for m in self.comm.allgather(np.max(np.stack(local), axis=0) if local else None)
                  if m is not None]
        self.board.waiting(False)
        self._count(values, count)
        return np.max(np.stack(maxima), axis=0)

    def gather(self, values: Mapping[str, T]) -> dict[str, T]:
        """Every agent's value on rank 0, in agent order; an empty dict on the other ranks."""
        self.board.waiting(True)
        parts = self.comm.gather(dict(values), root=0)
        self.board.waiting(False)
        if not self.is_root:
            return {}
        merged = {}
        for part in parts:
            merged.update(part)
        return {a: merged[a] for a in self.network.agents}

    def count_broadcast(self, size: int) -> None:
        """Count a coordinator's message of ``size`` floats to every agent (see the in-process runtime)."""
        self.messages += len(self.network.agents)
        self.floats += size * len(self.local_agents)

    def broadcast(self, value: T) -> T:
        """Rank 0's ``value`` on every rank."""
        self.board.waiting(True)
        value = self.comm.bcast(value, root=0)
        self.board.waiting(False)
        return value

    def checkpoint(self, k: int) -> bool:
        """Start of iteration k (0-based) on every rank: True on all ranks when any rank was interrupted."""
        self._iteration = k
        self.board.iteration(k)
        self.board.waiting(True)
        stop = bool(self.comm.allreduce(_interrupted.is_set(), op=self._mpi.LOR))
        self.board.waiting(False)
        return stop

    def totals(self) -> tuple[int, int]:
        """(messages, floats) over all ranks; every rank must call it.  The driver loop calls it at the end of a run
        (and a state checkpoint before it writes): from here on the rank assembles and writes results, which the
        watchdog does not time until the next per-iteration checkpoint, if any."""
        self.board.finishing()
        self.board.waiting(True)
        floats = int(self.comm.allreduce(self.floats))
        self.board.waiting(False)
        return self.messages, floats

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

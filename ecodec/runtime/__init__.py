"""Where agents execute: in this process (default) or on the ranks of an MPI job (:mod:`ecodec.runtime.mpi`).

Every runtime offers the same calls (each, exchange, mix, sum, maximum, gather, broadcast, checkpoint, totals,
close), so a driver written against them runs unchanged on any of them.  :func:`make_runtime` picks the MPI
runtime when the process was started by mpiexec, the in-process one otherwise.
"""

from collections.abc import Callable, Mapping
from typing import TypeVar

from ecodec.network import CommunicationNetwork
from ecodec.runtime.inprocess import InProcessRuntime
from ecodec.runtime.mpi_process import mpi_launched

T = TypeVar("T")


def make_runtime(network: CommunicationNetwork, weights: Mapping[str, float] | None = None):
    """An MPIRuntime (agents placed by ``weights``) under mpiexec, else an InProcessRuntime."""
    if mpi_launched():
        from ecodec.runtime.mpi import MPIRuntime

        return MPIRuntime(network, weights=weights)
    return InProcessRuntime(network)


def is_root_process() -> bool:
    """True in a single process, and on rank 0 of an MPI job: the process that talks to the user and writes."""
    if not mpi_launched():
        return True
    from mpi4py import MPI

    return MPI.COMM_WORLD.Get_rank() == 0


def on_root(fn: Callable[[], T]) -> T:
    """``fn()`` computed on the root process only; its value, or the exception it raised, on every process."""
    if not mpi_launched():
        return fn()
    from mpi4py import MPI

    comm = MPI.COMM_WORLD
    outcome = None
    if comm.Get_rank() == 0:
        try:
            outcome = (True, fn())
        except BaseException as exc:  # noqa: BLE001 - an error or Ctrl-C on the root is re-raised on every rank
            outcome = (False, exc)
    ok, value = comm.bcast(outcome, root=0)
    if not ok:
        raise value
    return value


__all__ = ["InProcessRuntime", "is_root_process", "make_runtime", "mpi_launched", "on_root"]

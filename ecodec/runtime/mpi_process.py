"""One MPI rank as a process: how it learns it runs under MPI, how it stops, and how it aborts the job.

* **Stopping.** Ctrl-C (SIGINT) and SIGUSR1 only set a flag (:data:`_interrupted`); the MPI runtime's
  checkpoint (once per iteration on every rank) ORs the flags, so all ranks stop after the same iteration and the
  root keeps the history.  SIGUSR1 is the launcher's request (mpiexec forwards it to every rank); unlike SIGINT
  it never escalates, so a rank that gets both still stops with the others.  A second SIGINT stops the rank at
  once.  At exit both are ignored (:func:`_ignore_stop_requests`).
* **Liveness.** :func:`catch_interrupts` enters the rank on the status board (:mod:`ecodec.runtime.status`) and,
  under ``ecodec ... --ranks``, makes it end at once when its launcher is gone
  (:func:`~ecodec.runtime.processes.follow_launcher`).
* **Failures.** :func:`abort_job` records the failure on the board, prints it unless the launcher will, and aborts
  every rank (MPI_Abort), so no rank waits forever for a dead peer.
"""

from __future__ import annotations

import atexit
import logging
import os
import signal
import sys
import threading

from ecodec.runtime.processes import follow_launcher
from ecodec.runtime.status import LAUNCHED_ENV, StatusBoard, record_rank_error, register_rank

log = logging.getLogger("ecodec.runtime.mpi")


def mpi_launched() -> bool:
    """True when this process was started by an MPI launcher (mpiexec/mpirun of MPICH or Open MPI)."""
    return any(key in os.environ for key in ("PMI_RANK", "PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "PMIX_RANK"))


_interrupted = threading.Event()
_started: list[StatusBoard] = []  # this process's first board entry, once made
_sigints = [0]


def catch_interrupts() -> None:
    """Start this rank: Ctrl-C (SIGINT) and SIGUSR1 only raise the flag :meth:`MPIRuntime.checkpoint` reads (a
    second SIGINT stops the process at once); the rank enters the status board and follows its launcher.  Called
    by the runtime and, first of all, by the command line under MPI: the launcher sees every rank from the start."""
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
    """At exit, ignore SIGINT and SIGUSR1: Python's shutdown restores SIGUSR1's default (end the process), so a late
    stop request (mpiexec forwards the launcher's after a Ctrl-C stopped the ranks) would kill a rank that ended
    normally, and mpiexec the ranks still writing results.  An ignored signal stays ignored."""
    for signum in (signal.SIGINT, signal.SIGUSR1):
        signal.signal(signum, signal.SIG_IGN)


def abort_job(comm, message: str, lost_peer: bool = False) -> None:
    """Record ``message`` on the status board, print it (unless the launcher will) and abort every rank;
    ``lost_peer``: a communication with a dead rank failed, so the launcher names that rank instead."""
    record_rank_error(comm.Get_rank(), message, lost_peer=lost_peer)
    if not os.environ.get(LAUNCHED_ENV):  # under `ecodec ... --ranks` the launcher reports it
        print(f"error: {message}; every rank is stopped", file=sys.__stderr__, flush=True)
    try:
        comm.Abort(1)
    finally:  # an abort while the job is already being torn down may return or raise: end this process anyway
        os._exit(1)


__all__ = ["abort_job", "catch_interrupts", "mpi_launched"]

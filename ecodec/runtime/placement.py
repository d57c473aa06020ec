"""Which MPI rank hosts which agents, and the advice when the ranks are too many for the agents or the cores
(the MPI runtime, :mod:`ecodec.runtime.mpi`, uses both).

:func:`partition` cuts the agents, in their fixed order, into one contiguous block per rank, balanced by a per-agent
cost estimate (or by count): block r holds the agents whose cumulative weight falls in [r W / R, (r + 1) W / R), W
the total weight.  Each rank pays a fixed price per runtime call (tens of microseconds, docs/mpi_performance.md),
so :func:`advise_ranks` warns once per process when a rank would host fewer than :data:`MIN_AGENTS_PER_RANK`
agents on average or a host runs more ranks than the cores a process may use.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping

import numpy as np

log = logging.getLogger(__name__)

#: Below this many agents per rank (on average) the runtime warns: measured in docs/mpi_performance.md
MIN_AGENTS_PER_RANK = 4
_advised: list[bool] = []  # the warning about too many ranks, once per process


def partition(agents: tuple[str, ...], ranks: int, weights: Mapping[str, float] | None = None) -> dict[str, int]:
    """The rank of each agent: contiguous blocks in agent order with about equal total weight (see the module
    docstring); every weight 1 when ``weights`` is None.

    >>> partition(("a", "b", "c", "d"), 2), partition(("a", "b", "c"), 2, {"a": 3, "b": 1, "c": 1})
    ({'a': 0, 'b': 0, 'c': 1, 'd': 1}, {'a': 0, 'b': 1, 'c': 1})
    """
    w = np.array([float(weights[a]) if weights is not None else 1.0 for a in agents])
    if np.any(w <= 0):
        raise ValueError("agent weights must be positive")
    start = np.concatenate([[0.0], np.cumsum(w)[:-1]])
    block = np.minimum((start / w.sum() * ranks).astype(int), ranks - 1) if len(agents) else []
    return {a: int(r) for a, r in zip(agents, block)}


def advise_ranks(comm, agents: int) -> None:
    """Rank 0 of ``comm`` warns once per process when its ranks are too many for ``agents`` agents or for the
    cores (module docstring), naming the number of ranks it advises; every rank takes part (one split of the
    communicator by host)."""
    from mpi4py import MPI

    size = comm.Get_size()
    if size == 1:
        return
    host = comm.Split_type(MPI.COMM_TYPE_SHARED)
    on_host, cores = host.Get_size(), len(os.sched_getaffinity(0))
    host.Free()
    reasons = []
    if agents < MIN_AGENTS_PER_RANK * size:
        reasons.append(f"{agents / size:.1f} agents per rank, fewer than {MIN_AGENTS_PER_RANK}: the messages"
                       " and reductions of every iteration cost more than the rank saves")
    if on_host > cores:
        reasons.append(f"{on_host} ranks on this host but {cores} cores for them: ranks wait for a core")
    if reasons and comm.Get_rank() == 0 and not _advised:
        advised = max(1, min(agents // MIN_AGENTS_PER_RANK, cores * size // on_host))
        log.warning("ecodec: %d ranks for %d agents (%s); use at most %d (--ranks %d) or more agents",
                    size, agents, "; ".join(reasons), advised, advised)
        _advised.append(True)


__all__ = ["MIN_AGENTS_PER_RANK", "advise_ranks", "partition"]

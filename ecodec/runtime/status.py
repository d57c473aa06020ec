"""The status board of a multi-process run: where each rank is, so a failure can be reported precisely.

Each rank owns two files in the board directory (``ECODEC_MPI_STATUS_DIR``, set by the launcher):

* ``rank-<r>.json``: written at start: rank, process id, host, its agents (once a run knows them); rewritten with
  ``"done": true`` when the rank finishes normally, or with ``"error"`` (one line: what failed, where) before it
  aborts;
* ``rank-<r>.progress``: five int64 mapped into memory: the current iteration, the index of the agent being
  worked on or -1, a beat counter (raised at every update), the phase (:data:`SETUP`, :data:`ITERATING`,
  :data:`FINISHING`) and whether the rank waits in a communication.  They are updated with plain memory stores,
  so they cost nothing per solve and still hold the last values when the process is killed or stopped.

A rank enters the board as soon as it starts (:func:`register_rank`, phase SETUP, no agents yet), so the
launcher knows every rank's process from the start; each run (:class:`StatusBoard`, created by the MPI runtime)
then names its agents.  The phases tell the launcher's watchdog (:mod:`ecodec.runtime.watchdog`) when silence
means a hang: only between the first per-iteration checkpoint and the end-of-run totals (ITERATING) does every
step have a known scale (the iterations); reading the case, the centralized reference, building models (SETUP)
and assembling and writing results or a state checkpoint (FINISHING: from the totals to the next iteration, if
any) may take any time.  The ``waiting`` flag tells a rank that holds the others up (computing) from the ranks
that wait for it.

The launcher (:mod:`ecodec.runtime.launcher`) reads the board while the ranks run and after they stop.
"""

from __future__ import annotations

import json
import mmap
import os
import socket
from dataclasses import dataclass
from pathlib import Path

import numpy as np

STATUS_DIR_ENV = "ECODEC_MPI_STATUS_DIR"
#: Set for ranks started by ``ecodec ... --ranks``, to the launcher's ``pid@host``: the launcher reports failures, and
#: the ranks end when it is gone (:func:`ecodec.runtime.processes.follow_launcher`)
LAUNCHED_ENV = "ECODEC_MPI_LAUNCHER"
SETUP, ITERATING, FINISHING = 0, 1, 2
_ITERATION, _AGENT, _BEAT, _PHASE, _WAITING = range(5)
_PROGRESS_BYTES = 8 * 5


class StatusBoard:
    """This rank's entries on the board; every method does nothing when no board directory is set."""

    def __init__(self, rank: int, agents: tuple[str, ...], directory: str | None = None):
        directory = directory if directory is not None else os.environ.get(STATUS_DIR_ENV)
        self.rank, self.agents = rank, agents
        self.directory = Path(directory) if directory else None
        self._progress = None
        self._view = np.array([-1, -1, 0, SETUP, 0], dtype=np.int64)
        if self.directory is None:
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / f"rank-{rank}.progress"
        tmp = self.directory / f".rank-{rank}.progress.tmp"  # a new file in one step: a reader never sees half
        tmp.write_bytes(self._view.tobytes())
        with tmp.open("r+b") as handle:
            self._progress = mmap.mmap(handle.fileno(), _PROGRESS_BYTES)
        tmp.replace(path)
        self._view = np.frombuffer(self._progress, dtype=np.int64)
        _write_entry(self.directory, self.rank, _entry(rank, agents))

    def iteration(self, k: int) -> None:
        """Iteration ``k`` (0-based) starts: the rank is in the driver loop."""
        self._view[_ITERATION] = k
        self._view[_PHASE] = ITERATING
        self._view[_BEAT] += 1

    def agent(self, index: int) -> None:
        """Work on the agent at ``index`` of this rank's agents starts (-1: on none)."""
        self._view[_AGENT] = index
        self._view[_BEAT] += 1

    def waiting(self, flag: bool) -> None:
        """The rank enters (True) or leaves (False) a communication with other ranks."""
        self._view[_WAITING] = int(flag)
        self._view[_BEAT] += 1

    def finishing(self) -> None:
        """The driver loop is over: what follows (results, writing) is not timed by the watchdog."""
        self._view[_AGENT] = -1
        self._view[_PHASE] = FINISHING
        self._view[_BEAT] += 1

    def error(self, message: str) -> None:
        if self.directory is not None:
            record_rank_error(self.rank, message)


def register_rank(rank: int) -> StatusBoard:
    """Enter this process on the board as ``rank`` (no agents yet, phase SETUP); does nothing without a board."""
    return StatusBoard(rank, ())


def mark_rank_done(rank: int) -> None:
    """Record on the board that ``rank`` ends normally (its process may exit without being taken for a crash)."""
    _update_entry(rank, done=True)


def record_rank_error(rank: int, message: str, lost_peer: bool = False) -> None:
    """Record on the board why ``rank`` is about to abort the job (``lost_peer``: because another rank died)."""
    _update_entry(rank, **({"lost_peer": message} if lost_peer else {"error": message}))


def _update_entry(rank: int, **fields) -> None:
    """Merge ``fields`` into the rank's board entry (creating it if the rank never wrote one)."""
    directory = os.environ.get(STATUS_DIR_ENV)
    if not directory:
        return
    entry = _entry(rank, ())
    try:
        entry.update(json.loads((Path(directory) / f"rank-{rank}.json").read_text()))
    except (OSError, ValueError):
        pass
    _write_entry(Path(directory), rank, {**entry, **fields})


def _entry(rank: int, agents) -> dict:
    return {"rank": rank, "pid": os.getpid(), "host": socket.gethostname(), "agents": list(agents)}


def _write_entry(directory: Path, rank: int, entry: dict) -> None:
    """Replace ``rank-<rank>.json`` in one step (a reader never sees half a file)."""
    directory.mkdir(parents=True, exist_ok=True)
    tmp = directory / f".rank-{rank}.json.tmp"
    tmp.write_text(json.dumps(entry))
    tmp.replace(directory / f"rank-{rank}.json")


@dataclass(frozen=True)
class RankStatus:
    """A rank as the board shows it (read by the launcher)."""

    rank: int
    pid: int
    host: str
    agents: list[str]
    done: bool
    error: str | None
    lost_peer: str | None
    iteration: int
    agent: str | None
    beat: int = 0
    phase: int = SETUP
    waiting: bool = False

    @property
    def progress(self) -> tuple:
        """Everything the rank updates as it works: any change is progress."""
        return self.iteration, self.agent, self.beat, self.phase, self.waiting

    def named(self, ranks: int) -> str:
        """'rank 1 of 2 (process 20273 on vm, agents pv, battery)': which process, and what it hosts."""
        agents = ", ".join(self.agents[:6]) + (" ..." if len(self.agents) > 6 else "")
        hosts = f", agents {agents}" if agents else ""
        return f"rank {self.rank} of {ranks} (process {self.pid} on {self.host}{hosts})"

    def where(self) -> str:
        """'at iteration 57 while working on agent 'pv_roof'' (iterations counted from 1), or what is known."""
        parts = []
        if self.iteration >= 0:
            parts.append(f"at iteration {self.iteration + 1}")
        else:
            parts.append("during set-up")
        if self.agent is not None:
            parts.append(f"while working on agent '{self.agent}'")
        return " ".join(parts)


def read_board(directory: str | Path) -> dict[int, RankStatus]:
    """Every rank's status found in ``directory`` (ranks that never started are missing)."""
    out = {}
    for path in sorted(Path(directory).glob("rank-*.json")):
        try:
            entry = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        progress = Path(directory) / f"rank-{entry['rank']}.progress"
        try:
            iteration, agent, beat, phase, waiting = (int(v) for v in np.frombuffer(
                progress.read_bytes()[:_PROGRESS_BYTES], dtype=np.int64))
        except (OSError, ValueError):
            iteration, agent, beat, phase, waiting = -1, -1, 0, SETUP, 0
        agents = entry.get("agents", [])
        out[int(entry["rank"])] = RankStatus(
            rank=int(entry["rank"]), pid=int(entry["pid"]), host=str(entry["host"]), agents=agents,
            done=bool(entry.get("done")), error=entry.get("error"), lost_peer=entry.get("lost_peer"),
            iteration=iteration, agent=agents[agent] if 0 <= agent < len(agents) else None, beat=beat,
            phase=phase, waiting=bool(waiting))
    return out

"""The status board of a multi-process run: where each rank is, so a failure can be reported precisely.

Each rank owns two files in the board directory (``ECODEC_MPI_STATUS_DIR``, set by the launcher):

* ``rank-<r>.json``: written once at start: rank, process id, host, its agents; rewritten with ``"done": true``
  when the rank finishes normally, or with ``"error"`` (one line: what failed, where) before it aborts;
* ``rank-<r>.progress``: 16 bytes mapped into memory (two int64: the current iteration, the index of the agent
  being worked on or -1), updated with plain memory stores, so it costs nothing per solve and still holds the
  last values when the process is killed.

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
LAUNCHED_ENV = "ECODEC_MPI_LAUNCHER"  # set for ranks started by `ecodec ... --ranks`: the launcher reports failures
_PROGRESS_BYTES = 16


class StatusBoard:
    """This rank's entries on the board; every method does nothing when no board directory is set."""

    def __init__(self, rank: int, agents: tuple[str, ...], directory: str | None = None):
        directory = directory if directory is not None else os.environ.get(STATUS_DIR_ENV)
        self.rank, self.agents = rank, agents
        self.directory = Path(directory) if directory else None
        self._progress = None
        self._view = np.full(2, -1, dtype=np.int64)
        if self.directory is None:
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / f"rank-{rank}.progress"
        path.write_bytes(b"\xff" * _PROGRESS_BYTES)
        with path.open("r+b") as handle:
            self._progress = mmap.mmap(handle.fileno(), _PROGRESS_BYTES)
        self._view = np.frombuffer(self._progress, dtype=np.int64)
        _write_entry(self.directory, self.rank, _entry(rank, agents))

    def iteration(self, k: int) -> None:
        self._view[0] = k

    def agent(self, index: int) -> None:
        self._view[1] = index

    def error(self, message: str) -> None:
        if self.directory is not None:
            record_rank_error(self.rank, message)


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
            iteration, agent = np.frombuffer(progress.read_bytes()[:_PROGRESS_BYTES], dtype=np.int64)
        except (OSError, ValueError):
            iteration, agent = -1, -1
        agents = entry.get("agents", [])
        out[int(entry["rank"])] = RankStatus(
            rank=int(entry["rank"]), pid=int(entry["pid"]), host=str(entry["host"]), agents=agents,
            done=bool(entry.get("done")), error=entry.get("error"), lost_peer=entry.get("lost_peer"),
            iteration=int(iteration),
            agent=agents[int(agent)] if 0 <= int(agent) < len(agents) else None)
    return out

"""The state checkpoint of a run: written while it runs, read back to resume it (``ecodec run ... --resume``).

:class:`StateCheckpoint` is what :func:`~ecodec.decomposition.driver.run_driver` calls, on every process of a run:

* **writing**: every ``every`` iterations (25) the root decides whether a write is due and tells every process
  (one broadcast): due when at least ``min_interval_s`` (5 s) have passed since the last write, and at least
  ``1 / cost_share - 1`` times the last write's own duration (so writes take at most ``cost_share``, 5%, of the
  run's time however large the case).  Then every process captures the state of the agents it hosts
  (:meth:`~ecodec.decomposition.driver.Driver.agent_state`), the root gathers them with the method-wide state,
  the message counters and the history so far, and writes ``OUTPUT/checkpoints/<method>_state.npz`` atomically
  (:mod:`ecodec.decomposition.state` gives the format).  The loop also writes once when it ends at an iteration
  boundary (an iteration limit, a stopping rule, an interrupt between two iterations), before the method's
  ``finish()`` post-processes the decisions, so a finished run can be continued for more iterations too;
* **resuming**: with ``saved`` (the file read back, on every process) the loop runs the method's ``setup()`` as
  usual, then :meth:`StateCheckpoint.restore` puts each hosted agent's state, the method-wide state and the
  message counters back and returns the history, and the loop goes on from the next iteration.

A write that fails (a full disk) is logged as a warning and the run goes on: the checkpoint only serves a later
resume, and the run itself is still saved at its end.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from ecodec.decomposition.state import read_state, write_state
from ecodec.errors import EcodecError
from ecodec.files import OutputError, atomic_write

log = logging.getLogger(__name__)

#: The name of a method's state file in OUTPUT/checkpoints/
STATE_SUFFIX = "_state.npz"


def state_path(directory: Path, method: str) -> Path:
    """Where a run of ``method`` with ``--output directory`` keeps its state."""
    return Path(directory) / "checkpoints" / f"{method}{STATE_SUFFIX}"


class StateCheckpoint:
    """See the module docstring.  ``identity``: what a resume must match (method, case fingerprint, options,
    reference), written into every state file; ``path``: where to write (None: never); ``saved``: the state read
    back (:func:`load_saved`) to resume from, or None."""

    def __init__(self, path: Path | None, identity: dict, saved: dict | None = None, *, every: int = 25,
                 min_interval_s: float = 5.0, cost_share: float = 0.05):
        self.path = Path(path) if path is not None else None
        self.identity = dict(identity)
        self.saved = saved
        self.every = every
        self.min_interval_s = min_interval_s
        self.cost_share = cost_share
        self._next = time.monotonic() + min_interval_s
        self._written = -1
        self.last_write_s: float | None = None

    @property
    def resuming(self) -> bool:
        return self.saved is not None

    @property
    def resumed_from(self) -> int:
        """The iteration the run resumed after (0 for a run that did not resume)."""
        return len(self.saved["history"]) if self.saved is not None else 0

    # -- resuming ---------------------------------------------------------------------------------------------
    def restore(self, driver) -> list[dict]:
        """Put the saved state into ``driver`` (just set up) and its runtime; returns the history so far."""
        runtime, saved = driver.runtime, self.saved
        missing = [name for name in runtime.local_agents if name not in saved["agents"]]
        if missing:
            raise EcodecError(f"the checkpoint holds no state of agent(s) {', '.join(missing)}")
        runtime.each(lambda name: driver.restore_agent(name, saved["agents"][name]))
        driver.restore_shared(saved["shared"])
        runtime.messages = int(saved["messages"])
        runtime.floats = int(saved["floats"]) if runtime.is_root else 0  # totals() adds the ranks' counts
        log.info("%s: resumed after iteration %d", driver.label, len(saved["history"]))
        return [dict(record) for record in saved["history"]]

    # -- writing ----------------------------------------------------------------------------------------------
    def due(self, driver, done: int) -> bool:
        """After ``done`` iterations: is a write due (the root's clock decides, every process gets the answer)."""
        if self.path is None or done % self.every:
            return False
        return bool(driver.runtime.broadcast(time.monotonic() >= self._next if driver.runtime.is_root else None))

    def save(self, driver, history: list[dict]) -> None:
        """Write the state after ``len(history)`` iterations; every process calls it (the agents' states are
        gathered on the root, which writes)."""
        if self.path is None or len(history) == self._written:
            return
        started = time.perf_counter()
        runtime = driver.runtime
        agents = runtime.gather(runtime.each(driver.agent_state))
        shared = driver.shared_state()
        messages, floats = runtime.messages, runtime.totals()[1]
        self._written = len(history)
        if not runtime.is_root:
            return
        meta = {**self.identity, "iteration": len(history), "messages": int(messages), "floats": int(floats)}
        try:
            atomic_write(self.path, lambda tmp: write_state(tmp, meta, shared, agents, history))
        except (OSError, OutputError) as exc:  # atomic_write words a refusal of the system as an OutputError
            log.warning("%s: the state checkpoint could not be written (%s); the run goes on", driver.label, exc)
            return
        self.last_write_s = time.perf_counter() - started
        pause = max(self.min_interval_s, self.last_write_s * (1.0 / self.cost_share - 1.0))
        self._next = time.monotonic() + pause
        log.debug("%s: state after iteration %d written to %s in %.3f s", driver.label, len(history), self.path,
                  self.last_write_s)


def load_saved(path: Path) -> dict:
    """The state file at ``path`` read back (EcodecError when it is missing or unreadable)."""
    try:
        return read_state(path)
    except FileNotFoundError:
        raise EcodecError(f"{path}: missing; a run writes its state there when it is given --output (a method that "
                          "cannot resume writes none)") from None


__all__ = ["STATE_SUFFIX", "StateCheckpoint", "load_saved", "state_path"]

"""The launcher's watchdog: a rank that makes no progress for too long is taken for hung, and the job is stopped.

A rank that is stopped (SIGSTOP), deadlocked or looping inside a solver never fails: its peers just wait for it
in the next communication, for ever.  The watchdog reads the status board (:mod:`ecodec.runtime.status`), where
every rank records, with plain memory stores, each iteration, each agent it starts working on and each
communication it enters or leaves; any change is progress.  It is fed by the launcher's poll (every 0.2 s) and
keeps its own clock (the ranks' clocks are never compared), so it is a pure object, tested without processes.

**When is a rank hung?**  After *limit* seconds of silence, where the limit is ``ECODEC_MPI_WATCHDOG_S`` when set
(0 turns the watchdog off), otherwise ``max(30 s, 10 x the slowest iteration so far)``; before the first iteration
has completed, ``max(30 s, the time the set-up took)``.  Ten iterations' worth of silence is far beyond any
variation of one run (the slowest iteration already includes the slowest agent solve); the 30 s floor covers runs
whose iterations take milliseconds, where a loaded machine or a slow disk can pause a rank for seconds; the first
iteration builds on the set-up (compiled models, first solves from scratch), so the set-up is its scale.

* *Stopped process* (any phase, ranks of this host): a rank whose process has been stopped for the limit.  A
  stopped process is unambiguous, so this also covers the set-up, where nothing else can be judged.
* *Silence in the driver loop*: every rank is between its first per-iteration checkpoint and the end-of-run
  totals (phase ITERATING) and no rank's board has changed for the limit.  The ranks wait for each other at every
  iteration, so a hung rank silences all of them; requiring every rank to be silent keeps a rank that merely
  waits for a slow peer (its board still) from being blamed while that peer works.  Reading the case, the
  centralized reference solve (rank 0 alone, the others waiting), building the models and writing the results
  are not timed: they may legitimately take any time, and a long solve there is the solver's time limit's
  business.
* *Which rank*: the stopped one; else the one not waiting in a communication (it holds the others up); else the
  one furthest behind (lowest iteration, longest silent); else the lowest rank.

If the launcher itself was not running for a while (suspended with Ctrl-Z, a laptop asleep), that time is not
counted: its polls are 0.2 s apart, so a gap above :data:`ABSENT_S` shifts every clock of the watchdog by it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from ecodec.errors import EcodecError
from ecodec.runtime.status import ITERATING, RankStatus

WATCHDOG_ENV = "ECODEC_MPI_WATCHDOG_S"
FLOOR_S, FACTOR, ABSENT_S = 30.0, 10.0, 5.0


def configured_limit(environ: Mapping[str, str] = os.environ) -> float | None:
    """The limit set by ``ECODEC_MPI_WATCHDOG_S`` (0: off), or None for the automatic limit."""
    text = environ.get(WATCHDOG_ENV, "").strip()
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value >= 0 or value == float("inf"):
        raise EcodecError(f"{WATCHDOG_ENV}={text!r}: expected a number of seconds >= 0 (the time a rank may make no "
                          "progress before the run is stopped; 0 turns the watchdog off)")
    return value


def seconds(value: float) -> str:
    """A duration in words: '42 s', '3.5 s', '40 ms'."""
    return f"{value:.0f} s" if value >= 10 else f"{value:.1f} s" if value >= 1 else f"{value * 1000:.0f} ms"


@dataclass(frozen=True)
class Stall:
    """A rank taken for hung: its board as last seen, how long it was silent, the limit and its explanation."""

    status: RankStatus
    quiet_s: float
    limit_s: float
    stopped: bool
    limit_text: str

    def describe(self, ranks: int) -> str:
        """The one-line failure message (without 'error: ')."""
        state = " (its process is stopped)" if self.stopped else ""
        return (f"{self.status.named(ranks)} made no progress for {seconds(self.quiet_s)} {self.status.where()}"
                f"{state}; every rank was stopped (watchdog limit {self.limit_text}; set {WATCHDOG_ENV}=SECONDS "
                "to allow longer, 0 to turn the watchdog off)")


class Watchdog:
    """Feed it the board at every poll (:meth:`observe`); it returns a :class:`Stall` once a rank is hung."""

    def __init__(self, ranks: int, limit_s: float | None, now: float):
        self.ranks, self.fixed = ranks, limit_s
        self.slowest_s: float | None = None  # the longest iteration seen so far (any rank)
        self.setup_s: float | None = None  # from the launch to the first iteration of any rank
        self._started = self._last = now
        self._progress: dict[int, tuple] = {}
        self._changed: dict[int, float] = {}  # rank -> when its board last changed
        self._iteration: dict[int, tuple[int, float]] = {}  # rank -> (iteration, when first seen)
        self._stopped_since: dict[int, float] = {}

    @property
    def enabled(self) -> bool:
        return self.fixed != 0

    def limit(self) -> float:
        if self.fixed is not None:
            return self.fixed
        if self.slowest_s is not None:
            return max(FLOOR_S, FACTOR * self.slowest_s)
        return max(FLOOR_S, self.setup_s or 0.0)

    def limit_text(self) -> str:
        limit = seconds(self.limit())
        if self.fixed is not None:
            return f"{limit}, from {WATCHDOG_ENV}"
        if self.slowest_s is not None:
            return f"{limit}: {FACTOR:g} x the slowest iteration so far ({seconds(self.slowest_s)}), at least " \
                   f"{FLOOR_S:g} s"
        if self.setup_s is not None:
            return f"{limit}: until an iteration has completed, the set-up time ({seconds(self.setup_s)}), at " \
                   f"least {FLOOR_S:g} s"
        return f"{limit}, before any iteration"

    def observe(self, now: float, statuses: Mapping[int, RankStatus], stopped: set[int]) -> Stall | None:
        """Take in the board at time ``now`` (a monotonic clock) and which ranks' processes are stopped."""
        if now - self._last > ABSENT_S:
            self._shift(now - self._last)
        self._last = now
        live = {r: s for r, s in statuses.items() if not s.done and s.error is None and s.lost_peer is None}
        for r, s in live.items():
            if self._progress.get(r) != s.progress:
                self._progress[r], self._changed[r] = s.progress, now
            self._time_iteration(r, s, now)
        self._stopped_since = {r: self._stopped_since.get(r, now) for r in stopped if r in live}
        if not self.enabled or not live:
            return None
        limit = self.limit()
        for r, since in sorted(self._stopped_since.items()):
            if now - since >= limit:
                return self._stall(live[r], now, limit, True)
        if len(statuses) < self.ranks or any(s.phase != ITERATING for s in live.values()):
            return None
        if now - max(self._changed[r] for r in live) < limit:
            return None
        culprit = min(live.values(), key=lambda s: (s.rank not in stopped, s.waiting, s.iteration,
                                                    self._changed[s.rank], s.rank))
        return self._stall(culprit, now, limit, culprit.rank in stopped)

    def _stall(self, status: RankStatus, now: float, limit: float, stopped: bool) -> Stall:
        return Stall(status, now - self._changed[status.rank], limit, stopped, self.limit_text())

    def _time_iteration(self, rank: int, status: RankStatus, now: float) -> None:
        """Time the iterations from the moments the board shows a new one (several per poll: their mean)."""
        if status.phase != ITERATING or status.iteration < 0:
            return
        if self.setup_s is None:
            self.setup_s = now - self._started
        seen = self._iteration.get(rank)
        if seen is None or status.iteration < seen[0]:  # first iteration seen, or a new run (compare)
            self._iteration[rank] = (status.iteration, now)
        elif status.iteration > seen[0]:
            per = (now - seen[1]) / (status.iteration - seen[0])
            self.slowest_s = per if self.slowest_s is None else max(self.slowest_s, per)
            self._iteration[rank] = (status.iteration, now)

    def _shift(self, gap: float) -> None:
        """The launcher was away for ``gap`` seconds: move every remembered moment forward by it."""
        self._started += gap
        self._changed = {r: t + gap for r, t in self._changed.items()}
        self._iteration = {r: (k, t + gap) for r, (k, t) in self._iteration.items()}
        self._stopped_since = {r: t + gap for r, t in self._stopped_since.items()}
